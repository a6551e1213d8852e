# Shared settings of the local install scripts (sourced, not run).
# The scripts only install (Debian packages, a JDK, Elasticsearch, its user); starting and
# stopping is `dateline stack up|down` (make up/down), which runs everything under supervisord.
# Everything lives under one project folder ($DATELINE_DATA_DIR, default <repo>/.dateline);
# downloads are cached in $DATELINE_CACHE_DIR so fresh clones on one machine share them.
# Each script ends by printing KEY=VALUE lines on stdout: where it installed things, for
# services/stack/install.py. Messages go to stderr.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA_DIR="${DATELINE_DATA_DIR:-$REPO_DIR/.dateline}"
case "$DATA_DIR" in /*) ;; *) DATA_DIR="$REPO_DIR/$DATA_DIR" ;; esac
CACHE_DIR="${DATELINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dateline}"

ES_VERSION="${DATELINE_ES_VERSION:-8.19.7}"
ES_USER="${DATELINE_ES_USER:-dateline-es}"

mkdir -p "$DATA_DIR" "$CACHE_DIR"

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

only_install() {
    # The scripts' one action; the old start/stop/status moved to the supervisor.
    case "${1:-install}" in
        install) install ;;
        start) die "deploy/local only installs; start everything with 'make up' (.venv/bin/dateline stack up)" ;;
        stop) die "deploy/local only installs; stop everything with 'make down' (.venv/bin/dateline stack down)" ;;
        status) die "deploy/local only installs; see what runs with '.venv/bin/dateline stack status'" ;;
        *) die "usage: $0 [install]" ;;
    esac
}
