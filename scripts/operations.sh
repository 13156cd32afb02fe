#!/usr/bin/env bash
# The binary as an operator drives it (SPEC §7, §9): sd_notify READY=1 once both listeners are up, the admin
# API over curl, /metrics through a real Prometheus parser, SIGHUP and file-replace reloads, an invalid reload
# kept out, SIGTERM with a slow request in flight (/ready turns 503, the request finishes, exit 0), and SIGTERM with
# 40 requests hanging upstream (exit 0 within drain_timeout plus a second).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/outrigger}
CHECK=operations
# shellcheck source=lib/check.sh
source scripts/lib/check.sh

cat >"$WORK/upstream.py" <<'PY'
import http.server, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        if self.path.startswith("/slow"): time.sleep(1.5)
        if self.path.startswith("/hang"): time.sleep(60)
        body = (sys.argv[2] + " " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" 18281 alpha & PIDS+=($!)
python3 "$WORK/upstream.py" 18282 beta & PIDS+=($!)

cat >"$WORK/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            message = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(message.replace("\n", " ") + "\n")
        out.flush()
PY
python3 "$WORK/notify.py" "$WORK/notify.sock" "$WORK/notify.log" & PIDS+=($!)

cat >"$WORK/outrigger.yaml" <<'YAML'
listen: 127.0.0.1:18280
admin: { listen: 127.0.0.1:18289 }
registry: registry.yaml
access_log: access.log
drain_timeout: 10s
defaults: { retries: { per_try_timeout: 5s } }
YAML
printf 'services:\n  alpha:\n    endpoints: [127.0.0.1:18281]\n' >"$WORK/registry.yaml"
for _ in $(seq 1 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET="$WORK/notify.sock" "$BIN" run --config "$WORK/outrigger.yaml" --log-format json 2>"$WORK/daemon.log" &
DAEMON=$!
PIDS+=($DAEMON)
for _ in $(seq 1 100); do grep -q "READY=1" "$WORK/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q "READY=1" "$WORK/notify.log" || fail "no READY=1 on NOTIFY_SOCKET"
# READY=1 means both listeners answer.
[ "$(curl -s http://127.0.0.1:18289/healthz)" = "ok" ] || fail "healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18289/ready)" = 200 ] || fail "ready"
[ "$(curl -s -H 'Host: alpha' http://127.0.0.1:18280/x)" = "alpha /x" ] || fail "proxying"
# Logs are JSON lines with --log-format json.
python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]" "$WORK/daemon.log" || fail "log lines are not JSON"

# /metrics passes a real parser; /stats counts the request.
curl -s http://127.0.0.1:18289/metrics >"$WORK/metrics.txt"
python3 - "$WORK/metrics.txt" <<'PY' || fail "metrics do not parse"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert "outrigger_request_duration_seconds" in families, sorted(families)
assert families["outrigger_request_duration_seconds"].type == "histogram"
assert any(s.labels.get("service") == "alpha" for s in families["outrigger_service_requests"].samples)
print("metrics: %d families parsed" % len(families))
PY
curl -s http://127.0.0.1:18289/stats | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['services']['alpha']['requests']==1, d" || fail "stats"

# Reload by SIGHUP: a new service appears.
printf 'services:\n  alpha:\n    endpoints: [127.0.0.1:18281]\n  beta:\n    endpoints: [127.0.0.1:18282]\n' >"$WORK/registry.yaml"
kill -HUP "$DAEMON"
for _ in $(seq 1 50); do [ "$(curl -s -H 'Host: beta' http://127.0.0.1:18280/y)" = "beta /y" ] && break; sleep 0.1; done
[ "$(curl -s -H 'Host: beta' http://127.0.0.1:18280/y)" = "beta /y" ] || fail "SIGHUP reload did not add beta"
grep -q "RELOADING=1" "$WORK/notify.log" || fail "no RELOADING=1"

# Reload by atomic rename (consul-template, ConfigMaps): beta goes away.
printf 'services:\n  alpha:\n    endpoints: [127.0.0.1:18281]\n' >"$WORK/registry.new"
mv "$WORK/registry.new" "$WORK/registry.yaml"
for _ in $(seq 1 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: beta' http://127.0.0.1:18280/)" = 404 ] && break; sleep 0.1; done
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: beta' http://127.0.0.1:18280/)" = 404 ] || fail "rename reload"

# An invalid reload is refused with its errors, and the running config is kept.
printf 'services:\n  alpha:\n    endpoints: []\n' >"$WORK/registry.yaml"
code=$(curl -s -o "$WORK/reload.json" -w '%{http_code}' -X POST http://127.0.0.1:18289/reload)
[ "$code" = 400 ] || fail "invalid reload gave $code"
grep -q "registry.yaml:3:16" "$WORK/reload.json" || fail "reload errors lack FILE:LINE:COL: $(cat "$WORK/reload.json")"
[ "$(curl -s -H 'Host: alpha' http://127.0.0.1:18280/z)" = "alpha /z" ] || fail "old config not kept"

# SIGTERM with a slow request in flight: /ready 503 at once, the request completes, exit 0.
curl -s -H 'Host: alpha' http://127.0.0.1:18280/slow >"$WORK/slow.out" &
SLOW=$!
for _ in $(seq 1 50); do [ "$(curl -s http://127.0.0.1:18289/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["alpha"]["in_flight"])')" = 1 ] && break; sleep 0.05; done
kill -TERM "$DAEMON"
ready=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18289/ready || true)
[ "$ready" = 503 ] || fail "/ready during drain gave $ready"
wait "$SLOW"
[ "$(cat "$WORK/slow.out")" = "alpha /slow" ] || fail "in-flight request cut: '$(cat "$WORK/slow.out")'"
set +e
wait "$DAEMON"
rc=$?
set -e
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "STOPPING=1" "$WORK/notify.log" || fail "no STOPPING=1"
lines=$(wc -l <"$WORK/access.log")
[ "$lines" -ge 6 ] || fail "access log has $lines lines"

# SIGTERM with 40 requests hanging upstream: the drain gives up at drain_timeout, the transfers are abandoned
# and the process exits 0 within drain_timeout plus a second (issue 11).
cat >"$WORK/hang.yaml" <<'YAML'
listen: 127.0.0.1:18283
admin: { listen: 127.0.0.1:18288 }
registry: registry-hang.yaml
access_log: off
drain_timeout: 1s
YAML
printf 'services:\n  alpha:\n    endpoints: [127.0.0.1:18281]\n' >"$WORK/registry-hang.yaml"
"$BIN" run --config "$WORK/hang.yaml" --log-level error 2>"$WORK/hang.log" &
HANG=$!
PIDS+=($HANG)
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:18288/ready && break; sleep 0.1; done
for i in $(seq 1 40); do curl -s -o /dev/null -H 'Host: alpha' "http://127.0.0.1:18283/hang/$i" & PIDS+=($!); done
inflight=0
for _ in $(seq 1 100); do
    inflight=$(curl -s http://127.0.0.1:18288/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["alpha"]["in_flight"])')
    [ "$inflight" = 40 ] && break
    sleep 0.05
done
[ "$inflight" = 40 ] || fail "40 hanging requests not in flight ($inflight)"
start=$(date +%s%N)
kill -TERM "$HANG"
set +e
wait "$HANG"
rc=$?
set -e
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM with 40 hanging requests: $(tail -5 "$WORK/hang.log")"
[ "$elapsed_ms" -le 2000 ] || fail "exit took ${elapsed_ms} ms with drain_timeout 1s"

echo "operations: ok (notify: $(tr '\n' '|' <"$WORK/notify.log"); 40 hanging requests: exit 0 in ${elapsed_ms} ms)"
