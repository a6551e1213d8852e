#!/usr/bin/env bash
# Local Elasticsearch for Dateline, without Docker: Elastic's integration-test distribution
# from Maven Central (the real server, without X-Pack and without a bundled JDK), run by an
# unprivileged user on a loopback port. Idempotent.
# The 8.x integ-test zip carries the security module; it is switched off because the node
# only listens on loopback for local development and tests (compose users get Elastic's image).
# Usage: deploy/local/elasticsearch.sh install|start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ES_ROOT="$DATA_DIR/elasticsearch"
ES_HOME="$ES_ROOT/elasticsearch-$ES_VERSION"
ES_ZIP="$CACHE_DIR/elasticsearch-$ES_VERSION.zip"
PID_FILE="$RUN_DIR/elasticsearch.pid"
URL="http://127.0.0.1:$ES_PORT"

java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

find_java() {
    # Elasticsearch 8.19 runs on Java 17 or 21: prefer those, then any newer full JDK.
    if [ -n "${ES_JAVA_HOME:-}" ]; then echo "$ES_JAVA_HOME"; return; fi
    local candidate major
    for candidate in /usr/lib/jvm/java-21-openjdk-* /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/temurin-21* /usr/lib/jvm/temurin-17* /usr/lib/jvm/*; do
        [ -x "$candidate/bin/java" ] || continue
        major=$(java_major "$candidate")
        if [ -n "$major" ] && [ "$major" -ge 17 ]; then echo "$candidate"; return; fi
    done
}

install() {
    command -v unzip >/dev/null 2>&1 || apt_install unzip
    if [ -z "$(find_java)" ]; then apt_install openjdk-17-jdk-headless; fi
    if [ ! -f "$ES_ZIP" ]; then
        command -v mvn >/dev/null 2>&1 || apt_install maven
        say "downloading Elasticsearch $ES_VERSION (integ-test distribution) from Maven Central"
        local tmp; tmp=$(mktemp -d)
        mvn -q dependency:copy \
            -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
            -DoutputDirectory="$tmp" || die "could not download Elasticsearch $ES_VERSION with Maven"
        mv "$tmp/elasticsearch-$ES_VERSION.zip" "$ES_ZIP"; rm -rf "$tmp"
    fi
    if [ ! -x "$ES_HOME/bin/elasticsearch" ]; then
        say "unpacking Elasticsearch into $ES_ROOT"
        mkdir -p "$ES_ROOT"
        unzip -q -o "$ES_ZIP" -d "$ES_ROOT"
    fi
    if is_root; then
        # Elasticsearch refuses to run as root: it gets a system user of its own.
        id -u "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
        chown -R "$ES_USER" "$ES_ROOT"
        runuser -u "$ES_USER" -- test -x "$ES_HOME/bin" \
            || die "user $ES_USER cannot reach $ES_ROOT; put the data elsewhere with DATELINE_DATA_DIR=/var/lib/dateline"
    fi
}

healthy() {
    curl -fsS "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null | grep -q '"status":"\(green\|yellow\)"'
}

start() {
    install
    if pid_alive "$PID_FILE"; then
        if healthy; then say "elasticsearch already running on $URL"; return 0; fi
        # One node per data folder: an instance on another port (or hung) must go first.
        say "an elasticsearch of this data folder is not answering on $URL; restarting it"
        stop
    fi
    if curl -fsS "$URL" >/dev/null 2>&1; then
        die "port $ES_PORT is taken by another service; stop it or set DATELINE_ES_PORT"
    fi
    local java; java=$(find_java)
    mkdir -p "$ES_ROOT/data" "$ES_ROOT/logs"
    is_root && chown -R "$ES_USER" "$ES_ROOT"
    local -a as_user=()
    is_root && as_user=(runuser -u "$ES_USER" --)
    say "starting Elasticsearch $ES_VERSION on $URL (java: $java)"
    env ES_JAVA_HOME="$java" ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" \
        "${as_user[@]}" "$ES_HOME/bin/elasticsearch" -d -p "$ES_ROOT/es.pid" \
        -E discovery.type=single-node -E network.host=127.0.0.1 -E http.port="$ES_PORT" \
        -E transport.port=0 -E cluster.name=dateline-local \
        -E path.data="$ES_ROOT/data" -E path.logs="$ES_ROOT/logs" \
        -E cluster.routing.allocation.disk.threshold_enabled=false \
        -E action.destructive_requires_name=false \
        -E xpack.security.enabled=false \
        >"$LOG_DIR/elasticsearch.out" 2>&1 || die "elasticsearch did not start; see $LOG_DIR/elasticsearch.out and $ES_ROOT/logs"
    cp "$ES_ROOT/es.pid" "$PID_FILE"
    if ! wait_for 180 elasticsearch healthy; then
        die "elasticsearch is not healthy after 180 s; see $ES_ROOT/logs/dateline-local.log"
    fi
    say "elasticsearch ready on $URL"
}

stop() { stop_pid_file elasticsearch "$PID_FILE" 60; }

status() {
    if pid_alive "$PID_FILE" && healthy; then echo "elasticsearch: running on $URL"; else echo "elasticsearch: stopped"; return 1; fi
}

case "${1:-status}" in install|start|stop|status) "$1" ;; *) die "usage: $0 install|start|stop|status" ;; esac
