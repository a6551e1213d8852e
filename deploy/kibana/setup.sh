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

kibana() {
    if [ -n "${KIBANA_USER:-}" ]; then
        curl -sS -u "$KIBANA_USER:${KIBANA_PASSWORD:-}" -H "kbn-xsrf: dateline" "$@"
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
# The data view shows the alias Dateline writes to.
sed "s/\"title\": \"articles\"/\"title\": \"$ALIAS\"/" "$OBJECTS" >"$payload"

response=$(kibana -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" --form "file=@$payload;filename=dateline.ndjson")
if echo "$response" | grep -q '"success":true'; then
    echo "kibana-setup: imported Dateline saved objects (data view '$ALIAS', dashboard 'Dateline overview')"
else
    echo "kibana-setup: import failed: $response" >&2
    exit 1
fi
