#!/usr/bin/env bash
# The admin API's contract (SPEC §15) against the binary: /openapi.json validated by openapi-spec-validator, every
# admin endpoint in it, then schemathesis against the live API with its own document — every check (status codes,
# content types, headers, response schemas, schema-violating requests refused, valid ones accepted, missing and
# wrong tokens refused, 405 for undocumented methods with Allow) over examples, coverage, fuzzing and stateful
# phases, with a TLS listener, discovery and span export configured so that every optional part of /stats and
# /services is there to check. `use_after_free` is left out: DELETE /faults/NAME ends run-time faults, the service's faults resource
# stays (GET then shows the registry's). OPENAPI_EXAMPLES sets schemathesis' --max-examples (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh openapi "$@"
command -v st >/dev/null || fail "schemathesis is not installed (pip install schemathesis)"

python3 -m http.server 18671 --bind 127.0.0.1 >/dev/null 2>&1 &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  orders:
    endpoints: [127.0.0.1:18671]
    faults: { delay: { percent: 1, duration: 5ms } }
  payments:
    endpoints: [127.0.0.1:18672]
    breaker: { consecutive_failures: 2, open_for: 5m }
YAML
# Every optional part of /stats and /services present, so schemathesis holds their shapes too: a TLS listener
# (handshake counts), etcd discovery (never synced: nothing listens there) and span export (to a closed port).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/server.key" -out "$WORK/server.pem" -days 1 \
    -subj /CN=localhost 2>/dev/null
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15171
admin: { listen: 127.0.0.1:9971, token: sesame }
registry: registry.yaml
access_log: $WORK/access.log
tls: { listen: 127.0.0.1:15172, cert_file: server.pem, key_file: server.key }
discovery:
  etcd: { endpoints: ["http://127.0.0.1:18679"], prefix: /outrigger/services }
tracing:
  otlp: { endpoint: "http://127.0.0.1:18678/v1/traces" }
YAML
start_daemon http://127.0.0.1:9971/ready http://127.0.0.1:18671/
# Some traffic first, so the shapes hold numbers, an open breaker with its failures, and history.
for _ in $(seq 1 10); do curl -s -o /dev/null -H 'Host: orders' http://127.0.0.1:15171/; done
for _ in 1 2 3; do curl -s -o /dev/null -H 'Host: payments' http://127.0.0.1:15171/; done
curl -sk -o /dev/null -H 'Host: orders' https://127.0.0.1:15172/ || true
for part in '"tls"' '"discovery"' '"span_export"'; do
    curl -s -H 'Authorization: Bearer sesame' http://127.0.0.1:9971/stats | grep -q "$part" || fail "/stats has no $part"
done

curl -sf -H 'Authorization: Bearer sesame' http://127.0.0.1:9971/openapi.json -o "$WORK/openapi.json" \
    || fail "GET /openapi.json"
python3 - "$WORK/openapi.json" <<'PY' || fail "the document"
import json, sys
from openapi_spec_validator import validate
document = json.load(open(sys.argv[1]))
validate(document)
expected = {"/", "/healthz", "/ready", "/stats", "/metrics", "/history", "/services", "/breakers",
            "/breakers/{name}", "/breakers/{name}/open", "/breakers/{name}/close", "/breakers/{name}/reset",
            "/faults", "/faults/{name}", "/config", "/reload", "/openapi.json"}
missing = expected - set(document["paths"])
if missing:
    sys.exit("endpoints missing from the document: %s" % sorted(missing))
print("openapi: %s valid, %d paths" % (document["openapi"], len(document["paths"])))
PY

cd "$WORK"
st run "$WORK/openapi.json" --url http://127.0.0.1:9971 -H 'Authorization: Bearer sesame' \
    --checks all --exclude-checks use_after_free --max-examples "${OPENAPI_EXAMPLES:-60}" --workers 1 \
    --phases examples,coverage,fuzzing,stateful --seed 1 --no-color >"$WORK/st.out" 2>&1 \
    || { tail -60 "$WORK/st.out" >&2; fail "schemathesis found failures"; }
grep -E 'generated|No issues' "$WORK/st.out" | sed 's/^ */openapi: schemathesis /'
grep -q 'No issues found' "$WORK/st.out" || fail "schemathesis: $(tail -5 "$WORK/st.out")"
