#!/usr/bin/env bash
# SPEC §16-17 against the binary, black box, as a user would try it: slow and trickling upstreams under the
# default and explicit timeouts, traceparent flags, breaker state read after open_for with no traffic, /config
# types, the admin token from a file and from the environment with tokenless probes, and the log of a
# 100-request outage.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/outrigger}
CHECK=contract
# shellcheck source=lib/check.sh
source scripts/lib/check.sh
P=18380 A=18389 UP=18381 DEAD=18382

cat >"$WORK/upstream.py" <<'PY'
import http.server, socket, sys, time, urllib.parse
seen = {}
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        seen[url.path] = seen.get(url.path, 0) + 1
        if url.path == "/count":
            body = str(seen.get(q["path"], 0)).encode()
        elif url.path == "/slow":
            time.sleep(int(q["ms"]) / 1000)
            body = b"slow"
        elif url.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", q["n"])
            self.end_headers()
            self.wfile.flush()
            for _ in range(int(q["n"])):
                time.sleep(int(q["every"]) / 1000)
                self.wfile.write(b"x")
                self.wfile.flush()
            return
        elif url.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(30)
            return
        else:
            body = (self.headers.get("traceparent") or "-").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, address): pass  # a client Outrigger cut off (timeouts) is expected here
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" $UP & PIDS+=($!)

printf '  s3cret-from-file \n' >"$WORK/admin.token"
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:$P
admin: { listen: 127.0.0.1:$A, token_file: admin.token }
registry: registry.yaml
access_log: off
YAML
cat >"$WORK/registry.yaml" <<YAML
services:
  defaults:
    endpoints: [127.0.0.1:$UP]
  pertry:
    endpoints: [127.0.0.1:$UP]
    retries: { per_try_timeout: 300ms }
  trickle:
    endpoints: [127.0.0.1:$UP]
    idle_timeout: 2s
  stall:
    endpoints: [127.0.0.1:$UP]
    idle_timeout: 500ms
  flaky:
    endpoints: [127.0.0.1:$DEAD]
    retries: { attempts: 0 }
    breaker: { consecutive_failures: 2, open_for: 1s }
  down:
    endpoints: [127.0.0.1:$DEAD]
    retries: { attempts: 0 }
    breaker: { consecutive_failures: 1000, minimum_requests: 1000 }
YAML

start() {
    "$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/daemon.log" & DAEMON=$!
    PIDS+=($DAEMON)
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$A/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "the daemon never became ready"
}
stop() { kill -TERM "$DAEMON"; wait "$DAEMON" || true; }
call() { curl -s -H "Host: $1" "http://127.0.0.1:$P$2"; }
admin() { curl -s -H "Authorization: Bearer s3cret-from-file" "http://127.0.0.1:$A$1" "${@:2}"; }
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$UP/" >/dev/null 2>&1 && break; sleep 0.1; done
start

# SPEC §17: no per_try_timeout by default: a 1.5 s answer is a 200.
out=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: defaults' "http://127.0.0.1:$P/slow?ms=1500")
[ "$out" = 200 ] || fail "default config cut a 1.5 s upstream: $out"
# An explicit per_try_timeout is a 504 retried under the default retry_on: three tries reach the upstream.
out=$(curl -s -D - -o /dev/null -H 'Host: pertry' "http://127.0.0.1:$P/slow?ms=1000")
echo "$out" | grep -q '^HTTP/1.1 504' || fail "per_try_timeout did not give 504: $out"
echo "$out" | grep -qi '^x-outrigger-error: upstream_timeout' || fail "per_try_timeout error code: $out"
[ "$(call defaults '/count?path=/slow')" = 4 ] || fail "per_try_timeout was not retried twice"
# idle_timeout 2 s: one byte every 1.5 s keeps it alive.
out=$(curl -s -w ' %{http_code}' -H 'Host: trickle' "http://127.0.0.1:$P/trickle?n=3&every=1500")
[ "$out" = "xxx 200" ] || fail "a trickle under idle_timeout was cut: $out"
# idle_timeout 500 ms: a stall after the head closes the connection (the response is truncated).
set +e
curl -s -o /dev/null -m 10 -H 'Host: stall' "http://127.0.0.1:$P/stall"
code=$?
set -e
[ "$code" = 18 ] || fail "a stalled upstream was not cut by idle_timeout (curl exit $code, want 18)"
# W3C flags go upstream as received, every bit.
for flags in 00 01 02 ff; do
    sent=$(curl -s -H 'Host: defaults' -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-$flags" \
        "http://127.0.0.1:$P/echo")
    case "$sent" in 00-4bf92f3577b34da6a3ce929d0e0e4736-*-"$flags") ;; *) fail "flags $flags went up as $sent" ;; esac
done
# SPEC §16: probes without a token, everything else with it (read from admin.token_file, trimmed).
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A/healthz")" = 200 ] || fail "/healthz needs a token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A/ready")" = 200 ] || fail "/ready needs a token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A/stats")" = 401 ] || fail "/stats without a token"
[ "$(admin /stats -o /dev/null -w '%{http_code}')" = 200 ] || fail "/stats with the token from the file"
# SPEC §17: /config numbers are numbers, lists are lists.
admin /config | python3 -c '
import json, sys
c = json.load(sys.stdin)
assert isinstance(c["limits"]["max_connections"], int), c["limits"]
assert c["tracing"]["formats"] == ["w3c", "b3"], c["tracing"]
assert isinstance(c["tracing"]["sample_ratio"], (int, float)) and c["tracing"]["sample_ratio"] == 1, c["tracing"]
r = c["defaults"]["retries"]
assert r["retry_on"] == ["connect_failure", "reset", 502, 503, 504], r
assert r["per_try_timeout"] == "0", r
assert c["admin"]["token"] == "<redacted>" and "s3cret" not in json.dumps(c), c["admin"]
' || fail "/config types"
# SPEC §17: after open_for, the breaker reads half_open with no request in between.
for _ in 1 2; do call flaky / >/dev/null; done
[ "$(admin /breakers/flaky | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = open ] \
    || fail "the breaker did not open"
sleep 1.2
[ "$(admin /breakers/flaky | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = half_open ] \
    || fail "/breakers does not follow the clock"
admin /stats | python3 -c 'import json,sys; assert json.load(sys.stdin)["services"]["flaky"]["breaker_state"] == "half_open"' \
    || fail "/stats does not follow the clock"
# Read whole before grep: `grep -q` stops at the first match, and curl writing into the closed pipe would fail it.
metrics=$(admin /metrics)
grep -q 'outrigger_breaker_state{service="flaky",state="half_open"} 1' <<<"$metrics" || fail "/metrics does not follow the clock"
# A 100-request outage writes a handful of warning lines, and /stats counts all 100.
before=$(wc -l <"$WORK/daemon.log")
for _ in $(seq 1 100); do call down / >/dev/null; done
errors=$(admin /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["down"]["errors"]["upstream_connect_failed"])')
[ "$errors" = 100 ] || fail "/stats counted $errors of 100 failures"
stop
lines=$(tail -n +"$((before + 1))" "$WORK/daemon.log" | grep -c 'upstream failure' || true)
[ "$lines" -le 5 ] || fail "a 100-request outage wrote $lines failure lines"
tail -n +"$((before + 1))" "$WORK/daemon.log" | grep 'upstream failures repeated' | grep -q 'count=99' \
    || fail "the outage's count is not in the log"

# The token from OUTRIGGER_ADMIN_TOKEN when the config names none.
sed -i 's/, token_file: admin.token//' "$WORK/outrigger.yaml"
OUTRIGGER_ADMIN_TOKEN=env-token start
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A/services")" = 401 ] || fail "env token not required"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer env-token' "http://127.0.0.1:$A/services")" = 200 ] \
    || fail "env token refused"
stop
echo "contract: ok (defaults, per-try, idle trickle and stall, trace flags, tokens and probes, /config, breaker clock, outage log: $lines line(s))"
