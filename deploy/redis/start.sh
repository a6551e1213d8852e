#!/bin/sh
# Redis in docker compose: the password from the environment (REDIS_PASSWORD) into a config
# file only Redis's user may read, never onto a command line (`ps` on the host and
# `docker inspect` show those). Refuses an empty or placeholder password (.env.example's
# `change-me`: run `make setup`, which writes random secrets into .env).
# Usage: start.sh [redis-server options...]
set -eu

# Empty, or a value copied from a template (shared/settings.py PLACEHOLDER_SECRETS).
is_placeholder() {
    value=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
    case "$value" in
        ''|change*|your-*|your_*|'<'*'>'|'{'*'}'|'['*']'|'${'*) return 0 ;;
        password|passwd|secret|example|placeholder|default|todo|none|null|redis|elastic|admin|test|xxx|123456) return 0 ;;
    esac
    return 1
}

if is_placeholder "${REDIS_PASSWORD:-}"; then
    echo "redis: REDIS_PASSWORD in .env is empty or a placeholder ('${REDIS_PASSWORD:-}'); run \`make setup\`" \
         "(it replaces placeholders with random secrets) or set a real one, then start again" >&2
    exit 1
fi
case "$REDIS_PASSWORD" in
    *'"'*|*\\*) echo "redis: REDIS_PASSWORD may not contain \" or \\" >&2; exit 1 ;;
esac

CONF="${REDIS_CONF:-/tmp/redis.conf}"
umask 077
# printf is the shell's own: the password is in no process's arguments.
printf 'requirepass "%s"\n' "$REDIS_PASSWORD" >"$CONF"
exec redis-server "$CONF" "$@"
