# Shared settings of the local service scripts (sourced, not run).
# Everything lives under one project folder ($DATELINE_DATA_DIR, default <repo>/.dateline);
# downloads are cached in $DATELINE_CACHE_DIR so fresh clones on one machine share them.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA_DIR="${DATELINE_DATA_DIR:-$REPO_DIR/.dateline}"
case "$DATA_DIR" in /*) ;; *) DATA_DIR="$REPO_DIR/$DATA_DIR" ;; esac
CACHE_DIR="${DATELINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dateline}"

ES_VERSION="${DATELINE_ES_VERSION:-8.19.7}"
ES_PORT="${DATELINE_ES_PORT:-9250}"
ES_HEAP="${DATELINE_ES_HEAP:-512m}"
ES_USER="${DATELINE_ES_USER:-dateline-es}"
REDIS_PORT="${DATELINE_REDIS_PORT:-6390}"

RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
mkdir -p "$RUN_DIR" "$LOG_DIR" "$CACHE_DIR"

say() { printf '[dateline] %s\n' "$*" >&2; }
die() { printf '[dateline] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # Installs Debian packages; needs root. `apt-get update` runs once per machine.
    is_root || die "need the Debian package(s) $* - install them (sudo apt-get install -y $*) and retry"
    if [ ! -f /var/lib/apt/lists/.dateline-updated ] || ! apt-cache show "$1" >/dev/null 2>&1; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        touch /var/lib/apt/lists/.dateline-updated
    fi
    say "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {
    # wait_for <seconds> <description> <command...>: retry a check until it passes.
    local limit=$1 what=$2; shift 2
    local waited=0
    until "$@" >/dev/null 2>&1; do
        sleep 1; waited=$((waited + 1))
        [ "$waited" -lt "$limit" ] || return 1
    done
}

stop_pid_file() {
    # stop_pid_file <name> <pid file> <seconds>: SIGTERM (a clean shutdown for Redis and
    # Elasticsearch alike), SIGKILL if it is still there after <seconds>.
    local name=$1 pid_file=$2 limit=$3
    if pid_alive "$pid_file"; then
        local pid; pid=$(cat "$pid_file")
        kill "$pid" 2>/dev/null || true
        wait_for "$limit" "$name stop" bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
        say "$name stopped"
    fi
    rm -f "$pid_file"
}
