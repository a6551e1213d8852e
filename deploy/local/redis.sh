#!/usr/bin/env bash
# Local Redis for Dateline: installs the Debian package and the data folder. Idempotent.
# `dateline stack` runs it (in the foreground, under supervisord) on the port of
# DATELINE_REDIS_URL.
# Usage: deploy/local/redis.sh [install]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REDIS_DIR="$DATA_DIR/redis"

install() {
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    mkdir -p "$REDIS_DIR"
    echo "REDIS_SERVER=$(command -v redis-server)"
    echo "REDIS_DATA=$REDIS_DIR"
}

only_install "$@"
