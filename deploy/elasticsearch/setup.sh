#!/bin/bash
# One shot (compose service es-setup), idempotent: the accounts of a secured Elasticsearch.
#   kibana_system  Kibana's own built-in account: its password set to KIBANA_SYSTEM_PASSWORD
#   dateline       the user every Dateline service connects as (ES_DATELINE_PASSWORD), with
#                  role `dateline`: its own indices and templates, cluster health, _analyze
# Authenticates as `elastic` (ELASTIC_PASSWORD, set by the elasticsearch service's first
# start). Running it again only sets the same passwords and role again. Elasticsearch's
# healthcheck logs in as `dateline`, so the cluster counts as healthy (and Kibana and the
# Dateline services start) only once this has run.
set -euo pipefail

ES_URL="${ES_URL:-http://elasticsearch:9200}"
INDEX="${DATELINE_INDEX:-articles}"
WAIT="${ES_WAIT_SECONDS:-300}"

# Empty, or a value copied from a template (shared/settings.py PLACEHOLDER_SECRETS).
is_placeholder() {
    local value="${1,,}"
    case "$value" in
        ''|change*|your-*|your_*|'<'*'>'|'{'*'}'|'['*']'|'${'*) return 0 ;;
        password|passwd|secret|example|placeholder|default|todo|none|null|redis|elastic|admin|test|xxx|123456) return 0 ;;
    esac
    return 1
}

# Checked first, before any network: a placeholder would become a real account's password.
for name in ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD ES_DATELINE_PASSWORD; do
    value="${!name:-}"
    if is_placeholder "$value"; then
        echo "es-setup: $name in .env is empty or a placeholder ('$value'); run \`make setup\` (it replaces" \
             "placeholders with random secrets) or set a real one, then \`docker compose up\` again" >&2
        exit 1
    fi
    case "$value" in
        *\"*|*\\*) echo "es-setup: $name may not contain \" or \\" >&2; exit 1 ;;
    esac
done

# Passwords travel in curl's config (a pipe) and request bodies (stdin), never in its
# arguments, which `ps` shows to every user of the host.
es() {
    curl -sS -f -K <(printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD") -H "Content-Type: application/json" "$@"
}

echo "es-setup: waiting for Elasticsearch at $ES_URL (up to ${WAIT}s)"
waited=0
until es "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; do
    if [ "$waited" -ge "$WAIT" ]; then
        echo "es-setup: Elasticsearch did not accept elastic's password within ${WAIT}s. If its data volume" \
             "was created with another ELASTIC_PASSWORD, put that one back in .env." >&2
        exit 1
    fi
    sleep 5
    waited=$((waited + 5))
done

es -X POST "$ES_URL/_security/user/kibana_system/_password" --data-binary @- >/dev/null \
    <<<"{\"password\": \"$KIBANA_SYSTEM_PASSWORD\"}"
es -X PUT "$ES_URL/_security/role/dateline" -d "{
  \"cluster\": [\"monitor\", \"manage_index_templates\", \"cluster:admin/analyze\"],
  \"indices\": [{\"names\": [\"$INDEX\", \"$INDEX-*\"], \"privileges\": [\"all\"]}]
}" >/dev/null
es -X PUT "$ES_URL/_security/user/dateline" --data-binary @- >/dev/null \
    <<<"{\"password\": \"$ES_DATELINE_PASSWORD\", \"roles\": [\"dateline\"], \"full_name\": \"Dateline services\"}"
echo "es-setup: kibana_system's password set; user dateline (role dateline: indices $INDEX, $INDEX-*) ready"
