#!/usr/bin/env bash
# Local Elasticsearch for Dateline, without Docker: Elastic's integration-test distribution
# from Maven Central (the real server, without X-Pack and without a bundled JDK), a JDK,
# and an unprivileged user to run it (Elasticsearch refuses to run as root). Idempotent.
# `dateline stack` runs it (in the foreground, under supervisord, as that user) on the port
# of DATELINE_ELASTICSEARCH_URL.
# Usage: deploy/local/elasticsearch.sh [install]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ES_ROOT="$DATA_DIR/elasticsearch"
ES_HOME="$ES_ROOT/elasticsearch-$ES_VERSION"
ES_ZIP="$CACHE_DIR/elasticsearch-$ES_VERSION.zip"

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
            -DoutputDirectory="$tmp" >&2 || die "could not download Elasticsearch $ES_VERSION with Maven"
        mv "$tmp/elasticsearch-$ES_VERSION.zip" "$ES_ZIP"; rm -rf "$tmp"
    fi
    if [ ! -x "$ES_HOME/bin/elasticsearch" ]; then
        say "unpacking Elasticsearch into $ES_ROOT"
        mkdir -p "$ES_ROOT"
        unzip -q -o "$ES_ZIP" -d "$ES_ROOT"
    fi
    mkdir -p "$ES_ROOT/data" "$ES_ROOT/logs"
    local user=""
    if is_root; then
        user="$ES_USER"
        id -u "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER"
        # Only when something is not its own yet: the data folder can grow large.
        if [ -n "$(find "$ES_ROOT" ! -user "$ES_USER" -print -quit)" ]; then chown -R "$ES_USER" "$ES_ROOT"; fi
        runuser -u "$ES_USER" -- test -x "$ES_HOME/bin" \
            || die "user $ES_USER cannot reach $ES_ROOT; put the data elsewhere with DATELINE_DATA_DIR=/var/lib/dateline"
    fi
    echo "ES_HOME=$ES_HOME"
    echo "ES_JAVA_HOME=$(find_java)"
    echo "ES_DATA=$ES_ROOT/data"
    echo "ES_LOGS=$ES_ROOT/logs"
    echo "ES_USER=$user"
}

only_install "$@"
