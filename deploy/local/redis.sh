#!/usr/bin/env bash
# Local Redis for Dateline: install (Debian package), start, stop, status. Idempotent.
# Usage: deploy/local/redis.sh install|start|stop|status
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REDIS_DIR="$DATA_DIR/redis"
PID_FILE="$RUN_DIR/redis.pid"

install() {
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
}

ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start() {
    install
    if pid_alive "$PID_FILE"; then
        if ping; then say "redis already running on 127.0.0.1:$REDIS_PORT"; return 0; fi
        say "a redis of this data folder runs on another port; restarting it on $REDIS_PORT"
        stop
    fi
    if ping; then
        die "port $REDIS_PORT is taken by another Redis; stop it or set DATELINE_REDIS_PORT"
    fi
    mkdir -p "$REDIS_DIR"
    # Append-only persistence so the registry and queued work survive a restart.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
        --appendonly yes --save "" --daemonize yes --pidfile "$PID_FILE" \
        --logfile "$LOG_DIR/redis.log"
    wait_for 20 redis ping || die "redis did not answer on port $REDIS_PORT; see $LOG_DIR/redis.log"
    say "redis ready on redis://127.0.0.1:$REDIS_PORT"
}

stop() { stop_pid_file redis "$PID_FILE" 20; }

status() {
    if pid_alive "$PID_FILE" && ping; then echo "redis: running on 127.0.0.1:$REDIS_PORT"; else echo "redis: stopped"; return 1; fi
}

case "${1:-status}" in install|start|stop|status) "$1" ;; *) die "usage: $0 install|start|stop|status" ;; esac
