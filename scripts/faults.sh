#!/usr/bin/env bash
# Fault injection (SPEC §11) against the binary, with curl and a Python upstream that echoes what it received:
# 100 % and partial aborts (the share within bounds), delays with and without a per-try timeout, resets, the
# breaker and retries reacting to injected faults as to real ones, request-header faults off by default (and never
# sent upstream) and on where allowed, the admin API (ttl, reload, bad bodies, unknown service, token), the counts
# in /stats and /metrics, the access log's fault field, and `check` on a bad registry.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh faults "$@"

cat >"$WORK/upstream.py" <<'PY'
import http.server, json
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode() if self.path == "/headers" else b"upstream ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", 18531), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" 2>"$WORK/upstream.err" &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  abort-all:
    endpoints: [127.0.0.1:18531]
    faults: { abort: { percent: 100, status: 503 } }
    breaker: { consecutive_failures: 3, open_for: 30s }
  abort-half:
    endpoints: [127.0.0.1:18531]
    faults: { abort: { percent: 50, status: 503 } }
  abort-retried:
    endpoints: [127.0.0.1:18531]
    faults: { abort: { percent: 50, status: 503 } }
    retries: { attempts: 3, budget_percent: 100 }
  delayed:
    endpoints: [127.0.0.1:18531]
    faults: { delay: { percent: 100, duration: 300ms } }
  delay-timeout:
    endpoints: [127.0.0.1:18531]
    faults: { delay: { percent: 100, duration: 2s } }
    retries: { attempts: 0, per_try_timeout: 200ms }
  reset-all:
    endpoints: [127.0.0.1:18531]
    faults: { reset: { percent: 100 } }
  plain:
    endpoints: [127.0.0.1:18531]
  allowed:
    endpoints: [127.0.0.1:18531]
    faults: { allow_request_headers: true }
YAML
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15131
admin: { listen: 127.0.0.1:9931, token: sesame }
registry: registry.yaml
access_log: $WORK/access.log
defaults:
  retries: { attempts: 0 }
  breaker: { consecutive_failures: 100000, minimum_requests: 1000000 }
YAML
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:9931/ready && curl -s -o /dev/null http://127.0.0.1:18531/ && break
    sleep 0.1
done
ADMIN=(curl -s -H 'Authorization: Bearer sesame')
get() { curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' -H "Host: $1" "${@:3}" "http://127.0.0.1:15131$2"; }
header() { grep -i "^$1:" "$WORK/head" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

# 100 % abort: the status, the fault header, and the breaker opening after 3 such "failures".
for i in 1 2 3; do
    [ "$(get abort-all /)" = 503 ] && [ "$(header x-outrigger-fault)" = abort ] && [ -z "$(header x-outrigger-error)" ] \
        || fail "abort $i: $(cat "$WORK/head")"
done
[ "$(get abort-all /)" = 503 ] && [ "$(header x-outrigger-error)" = breaker_open ] || fail "breaker after 3 aborts: $(cat "$WORK/head")"

# A partial abort hits its share (50 % of 400: the bounds are over 6 standard deviations wide).
aborted=0
for _ in $(seq 1 400); do [ "$(get abort-half /)" = 503 ] && aborted=$((aborted + 1)); done
[ "$aborted" -ge 140 ] && [ "$aborted" -le 260 ] || fail "50 % abort hit $aborted of 400"
# Retries treat an injected 503 as the upstream's own: with 3 retries, 1 - 0.5^4 = 93.75 % succeed.
ok=0
for _ in $(seq 1 200); do [ "$(get abort-retried /)" = 200 ] && ok=$((ok + 1)); done
[ "$ok" -ge 170 ] || fail "only $ok of 200 succeeded with retries over a 50 % abort"

# A delay holds the try, then the upstream answers; a delay beyond per_try_timeout is a timeout.
start=$(date +%s%N)
[ "$(get delayed /)" = 200 ] && [ "$(cat "$WORK/body")" = "upstream ok" ] && [ "$(header x-outrigger-fault)" = delay ] \
    || fail "delayed: $(cat "$WORK/head")"
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed" -ge 300 ] || fail "a 300 ms delay took $elapsed ms"
start=$(date +%s%N)
[ "$(get delay-timeout /)" = 504 ] && [ "$(header x-outrigger-error)" = upstream_timeout ] \
    && [ "$(header x-outrigger-fault)" = delay ] || fail "delay past per_try_timeout: $(cat "$WORK/head")"
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed" -lt 1500 ] || fail "per_try_timeout 200ms ended a 2 s delay only after $elapsed ms"

# A reset is upstream_reset.
[ "$(get reset-all /)" = 502 ] && [ "$(header x-outrigger-error)" = upstream_reset ] \
    && [ "$(header x-outrigger-fault)" = reset ] || fail "reset: $(cat "$WORK/head")"

# Request-header faults: ignored and stripped where not allowed, applied where allowed.
[ "$(get plain /headers -H 'x-outrigger-fault-abort: 418' -H 'x-outrigger-fault-delay-ms: 5000')" = 200 ] \
    || fail "header faults applied without allow_request_headers"
grep -q "x-outrigger-fault" "$WORK/body" && fail "fault headers reached the upstream: $(cat "$WORK/body")"
[ "$(get allowed /headers -H 'x-outrigger-fault-abort: 418')" = 418 ] && [ "$(header x-outrigger-fault)" = abort ] \
    || fail "allowed header abort: $(cat "$WORK/head")"
start=$(date +%s%N)
[ "$(get allowed /headers -H 'x-outrigger-fault-delay-ms: 250')" = 200 ] || fail "allowed header delay"
grep -q "x-outrigger-fault" "$WORK/body" && fail "allowed fault headers reached the upstream: $(cat "$WORK/body")"
[ $((($(date +%s%N) - start) / 1000000)) -ge 250 ] || fail "header delay of 250 ms not applied"

# Run-time faults through the admin API: the token is required, bad bodies are refused with every error, an
# unknown service is 404, a set fault acts at once, survives a reload, and ends by itself after its ttl.
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -d '{"reset":{"percent":100}}' http://127.0.0.1:9931/faults/plain)" = 401 ] \
    || fail "PUT /faults without the token"
code=$("${ADMIN[@]}" -o "$WORK/bad.json" -w '%{http_code}' -X PUT -d '{"abort":{"percent":150,"status":42},"ttl":"x"}' \
    http://127.0.0.1:9931/faults/plain)
[ "$code" = 400 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["error"] == "bad_request" and len(d["errors"]) == 3, d
assert all(e.startswith("body:1:") for e in d["errors"]), d' "$WORK/bad.json" || fail "bad body: $code $(cat "$WORK/bad.json")"
[ "$("${ADMIN[@]}" -o /dev/null -w '%{http_code}' -X PUT -d '{}' http://127.0.0.1:9931/faults/nosuch)" = 404 ] \
    || fail "PUT /faults for an unknown service"
"${ADMIN[@]}" -X PUT -d '{"abort": {"percent": 100, "status": 500}, "ttl": "2s"}' http://127.0.0.1:9931/faults/plain >"$WORK/put.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source"] == "runtime" and d["abort"] == {"percent": 100, "status": 500} and 0 < d["expires_in_ms"] <= 2000, d' \
    "$WORK/put.json" || fail "PUT /faults/plain: $(cat "$WORK/put.json")"
[ "$(get plain /)" = 500 ] && [ "$(header x-outrigger-fault)" = abort ] || fail "run-time abort: $(cat "$WORK/head")"
"${ADMIN[@]}" -X POST http://127.0.0.1:9931/reload | grep -q '"reloaded":true' || fail "reload"
[ "$(get plain /)" = 500 ] || fail "run-time faults did not survive a reload"
"${ADMIN[@]}" http://127.0.0.1:9931/faults | python3 -c '
import json, sys
f = json.load(sys.stdin)["faults"]
assert f["plain"]["source"] == "runtime" and f["abort-all"]["source"] == "registry" and f["allowed"]["source"] == "registry", f' \
    || fail "GET /faults"
ended=
for _ in $(seq 1 100); do
    if [ "$(get plain /)" = 200 ]; then ended=1; break; fi
    sleep 0.1
done
[ -n "$ended" ] || fail "run-time faults outlived their ttl"
for _ in $(seq 1 30); do grep -q "faults ended" "$WORK/proxy.log" && break; sleep 0.1; done
grep "faults set" "$WORK/proxy.log" | grep -q "service=plain" || fail "no log line for the PUT"
grep "faults ended" "$WORK/proxy.log" | grep -q "ttl expired" || fail "no log line for the ttl's end"
# DELETE goes back to the registry's faults.
"${ADMIN[@]}" -X PUT -d '{"reset": {"percent": 100}}' http://127.0.0.1:9931/faults/abort-half >/dev/null
"${ADMIN[@]}" -X DELETE http://127.0.0.1:9931/faults/abort-half | grep -q '"source" : "registry"\|"source":"registry"' \
    || fail "DELETE /faults/abort-half"

# A reload that changes a service's registry faults logs the change too.
sed -i 's/faults: { reset: { percent: 100 } }/faults: { reset: { percent: 50 } }/' "$WORK/registry.yaml"
"${ADMIN[@]}" -X POST http://127.0.0.1:9931/reload | grep -q '"reloaded":true' || fail "reload with new faults"
grep "faults set" "$WORK/proxy.log" | grep "source=registry" | grep -q "service=reset-all" \
    || fail "no log line for the registry's new faults"

# Counted in /stats and /metrics, and marked in the access log.
"${ADMIN[@]}" http://127.0.0.1:9931/stats | python3 -c '
import json, sys
s = json.load(sys.stdin)["services"]
assert s["abort-all"]["faults_injected"]["abort"] == 3, s["abort-all"]
assert 140 <= s["abort-half"]["faults_injected"]["abort"] <= 260, s["abort-half"]
assert s["delayed"]["faults_injected"]["delay"] == 1 and s["reset-all"]["faults_injected"]["reset"] == 1, s' \
    || fail "stats"
"${ADMIN[@]}" http://127.0.0.1:9931/metrics | grep -q 'outrigger_service_faults_injected_total{service="abort-all",kind="abort"} 3' \
    || fail "metrics"
python3 - "$WORK/access.log" <<'PY' || fail "access log"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert any(l["service"] == "reset-all" and l["fault"] == "reset" for l in lines)
assert any(l["service"] == "delay-timeout" and l["fault"] == "delay" and l["error"] == "upstream_timeout" for l in lines)
assert all(l["fault"] is None for l in lines if l["service"] == "plain" and l["status"] == 200)
PY

# check: bad faults are reported with their positions.
cat >"$WORK/bad-registry.yaml" <<'YAML'
services:
  orders:
    endpoints: [127.0.0.1:9001]
    faults:
      abort: { percent: 101, status: 503 }
      delay: { percent: 5, duration: 1y }
YAML
printf 'listen: 127.0.0.1:15132\nregistry: bad-registry.yaml\n' >"$WORK/bad.yaml"
if "$BIN" check --config "$WORK/bad.yaml" >"$WORK/check.out" 2>&1; then fail "check accepted bad faults"; fi
grep -q "bad-registry.yaml:5:25: services.orders.faults.abort.percent must be between" "$WORK/check.out" \
    && grep -q "bad-registry.yaml:6:38: services.orders.faults.delay.duration: bad duration '1y'" "$WORK/check.out" \
    || fail "check: $(cat "$WORK/check.out")"

kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=
echo "faults: ok"
