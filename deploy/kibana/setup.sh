#!/bin/sh
# Import Dateline's Kibana saved objects (data view, saved searches, Lens charts, dashboard).
# Waits for Kibana to be available, then imports with overwrite=true: running it again is
# harmless (the objects have fixed ids).
#
#   KIBANA_URL            default http://kibana:5601
#   DATELINE_INDEX        the alias to show (default articles)
#   KIBANA_USER/PASSWORD  only if Kibana needs a login
#   KIBANA_WAIT_SECONDS   how long to wait for Kibana (default 300)
set -eu

KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
ALIAS="${DATELINE_INDEX:-articles}"
WAIT="${KIBANA_WAIT_SECONDS:-300}"
HERE=$(cd "$(dirname "$0")" && pwd)
OBJECTS="${DATELINE_KIBANA_OBJECTS:-$HERE/dateline.ndjson}"

# Empty, or a value copied from a template (shared/settings.py PLACEHOLDER_SECRETS).
is_placeholder() {
    value=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
    case "$value" in
        ''|change*|your-*|your_*|'<'*'>'|'{'*'}'|'['*']'|'${'*) return 0 ;;
        password|passwd|secret|example|placeholder|default|todo|none|null|redis|elastic|admin|test|xxx|123456) return 0 ;;
    esac
    return 1
}

# Checked first, before any network.
if [ -n "${KIBANA_USER:-}" ] && is_placeholder "${KIBANA_PASSWORD:-}"; then
    echo "kibana-setup: KIBANA_PASSWORD (ELASTIC_PASSWORD in .env) is empty or a placeholder" \
         "('${KIBANA_PASSWORD:-}'); run \`make setup\` (it replaces placeholders with random secrets)" >&2
    exit 1
fi

# The login through curl's config on stdin, never in its arguments (`ps` shows those).
kibana() {
    if [ -n "${KIBANA_USER:-}" ]; then
        printf 'user = "%s:%s"\n' "$KIBANA_USER" "${KIBANA_PASSWORD:-}" |
            curl -sS -K - -H "kbn-xsrf: dateline" "$@"
    else
        curl -sS -H "kbn-xsrf: dateline" "$@"
    fi
}

echo "kibana-setup: waiting for Kibana at $KIBANA_URL (up to ${WAIT}s)"
waited=0
until kibana "$KIBANA_URL/api/status" 2>/dev/null | grep -q '"level":"available"'; do
    if [ "$waited" -ge "$WAIT" ]; then
        echo "kibana-setup: Kibana is not available after ${WAIT}s; is it running at $KIBANA_URL?" >&2
        exit 1
    fi
    sleep 5
    waited=$((waited + 5))
done

payload=$(mktemp)
trap 'rm -f "$payload"' EXIT
# The data views show the alias Dateline writes to, and its alerts' index.
sed -e "s/\"title\": \"articles\"/\"title\": \"$ALIAS\"/" \
    -e "s/\"title\": \"articles-alerts\"/\"title\": \"$ALIAS-alerts\"/" "$OBJECTS" >"$payload"

response=$(kibana -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" --form "file=@$payload;filename=dateline.ndjson")
if echo "$response" | grep -q '"success":true'; then
    echo "kibana-setup: imported Dateline saved objects (data view '$ALIAS', dashboard 'Dateline overview')"
else
    echo "kibana-setup: import failed: $response" >&2
    exit 1
fi
