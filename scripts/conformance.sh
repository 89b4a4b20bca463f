#!/usr/bin/env bash
# `make conformance`: WBCSD's official PACT conformance tests against this node, set up exactly as a user would.
#
# For each database (SQLite, then PostgreSQL): a fresh data dir; `pcf node init`; `pcf node add-client` for the
# conformance run; `pcf node add-peer` for the service's host (http://127.0.0.1:PORT, its fixed callback credentials
# test_client_id / test_client_secret); `pcf node publish` of the official v3 example footprints (tests/fixtures),
# shared with the run's organisation; `pcf serve --self-signed` on a free port. Then the service's `run` in server
# mode for V3.0 and for V2.3: it starts WBCSD's service on loopback, judges every case including the asynchronous
# answers (13, 14.B), and fails on any mandatory case failed or still pending.
#
# Needs WBCSD's conformance service (../shared/pact/conformance, or PACT_CONFORMANCE=DIR), Node 20 + npm, psql and
# the local PostgreSQL (127.0.0.1:5432, trust auth) for the service's own database and the PostgreSQL round.
# CONFORMANCE_DATABASES="sqlite" (or "postgresql") runs one round only.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
conformance=${PACT_CONFORMANCE:-$repo/../shared/pact/conformance}
if [ ! -x "$conformance/run" ]; then
    echo "make conformance: no WBCSD conformance service at $conformance (it is not part of this repository: put it at ../shared/pact/conformance or set PACT_CONFORMANCE=DIR)" >&2
    exit 2
fi
conformance=$(cd "$conformance" && pwd)
pcf=${PCF:-$repo/.venv/bin/pcf}
python=${PYTHON:-$repo/.venv/bin/python}
service_port=${PACT_CONFORMANCE_PORT:-8004}
postgres=${PCF_CONFORMANCE_POSTGRES:-postgresql://postgres@127.0.0.1:5432}
databases=${CONFORMANCE_DATABASES:-sqlite postgresql}
org=ConformanceOrg
examples="$repo/tests/fixtures/pact/v3/examples"
# The service listens on plain HTTP on loopback: the node answers there only because the operator lists loopback.
export PCF_OUTBOUND_ALLOW=loopback PCF_NO_PROGRESS=1

work=$(mktemp -d -t pcf-conformance.XXXXXX)
serve_pid="" pg_database=""
cleanup() {
    if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
    if [ -n "$pg_database" ]; then psql "$postgres/postgres" -qc "drop database if exists \"$pg_database\"" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

summary=()
failed=0
for database in $databases; do
    data="$work/$database"
    mkdir -p "$data"
    export PCF_DATA_DIR="$data"
    db=()
    if [ "$database" = postgresql ]; then
        pg_database="pcf_conformance_$$"
        psql "$postgres/postgres" -qc "create database \"$pg_database\"" >/dev/null
        db=(--db "$postgres/$pg_database")
    fi
    secret=$("$python" -c 'import secrets; print(secrets.token_urlsafe(24))')
    port=$("$python" -c 'from pcf.tiers.local_nodes import free_port; print(free_port())')
    echo "== $database: a node set up with the pcf CLI in $data"
    # the node signs only its own organisation's footprints: here it plays the companies of the official examples
    company_ids=()
    while read -r company; do company_ids+=(--company-id "$company"); done < <("$python" -c '
import json, sys
from exchange.pact import footprints_in
for name in sys.argv[1:]:
    for _, footprint in footprints_in(json.load(open(name))):
        print(*footprint["companyIds"], sep="\n")' "$examples"/example-{1,2,3,4}.json "$examples/list-footprints-response.json" | sort -u)
    "$pcf" node init "${db[@]}" --org "PACT example companies" "${company_ids[@]}"
    "$pcf" node add-client "${db[@]}" --client-id conformance --client-secret "$secret" --org "$org"
    "$pcf" node add-peer "${db[@]}" --url "http://127.0.0.1:$service_port" --client-id test_client_id \
        --client-secret test_client_secret
    for example in example-1.json example-2.json example-3.json example-4.json list-footprints-response.json; do
        "$pcf" node publish "${db[@]}" "$examples/$example" --share-with "$org"
    done
    "$pcf" serve "${db[@]}" --self-signed --port "$port" --workers 2 >"$work/serve-$database.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 60); do
        curl -sfk "https://127.0.0.1:$port/health" >/dev/null && break
        kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve-$database.log" >&2; exit 1; }
        sleep 0.5
    done
    for version in V3.0 V2.3; do
        echo "== $database: WBCSD conformance $version, server mode (service on 127.0.0.1:$service_port)"
        out="$work/$database-$version.out"
        set +e
        "$conformance/run" --base-url "https://127.0.0.1:$port" --client-id conformance --client-secret "$secret" \
            --org "$org" --version "$version" --mode server --port "$service_port" | tee "$out"
        status=${PIPESTATUS[0]}
        set -e
        line=$(grep '^Mandatory Tests:' "$out" || echo "no result")
        optional=$(grep -c '^✗ .*(optional)$' "$out" || true)
        summary+=("$database $version: $line  Optional failed: $optional  ($([ "$status" -eq 0 ] && echo pass || echo FAIL))")
        [ "$status" -eq 0 ] || failed=1
    done
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
    if [ -n "$pg_database" ]; then
        psql "$postgres/postgres" -qc "drop database if exists \"$pg_database\"" >/dev/null
        pg_database=""
    fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
