#!/usr/bin/env bash
# Span export over OTLP/HTTP (SPEC §13) against the binary, with a receiver that decodes every export with the
# official definitions (Python's opentelemetry-proto): span count and identity against the traceparent the upstream
# saw, parentage, attributes and status, retries as events, sampling (the caller's flag wins), headers, gzip,
# batching, a collector answering 503 with Retry-After, http/json and the OTEL_* variables (the file's keys first,
# signal-specific variables before general ones), and latency with the collector down.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh otlp "$@"
python3 -c 'import opentelemetry.proto' 2>/dev/null || { echo "otlp: opentelemetry-proto is missing (pip install)" >&2; exit 1; }
EXTRA=()
otlp_cleanup() { for pid in "${EXTRA[@]}"; do kill "$pid" 2>/dev/null || true; done; cleanup; }
trap otlp_cleanup EXIT

# The upstream answers with the headers it received (to see the traceparent Outrigger sent).
cat >"$WORK/upstream.py" <<'PY'
import http.server, json
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer.request_queue_size = 256
http.server.ThreadingHTTPServer(("127.0.0.1", 18581), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" & UP_PID=$!
python3 scripts/otlp-collector.py 14381 "$WORK/c1.jsonl" 2 & EXTRA+=($!)   # the first 2 exports get 503
python3 scripts/otlp-collector.py 14382 "$WORK/c2.jsonl" & EXTRA+=($!)
printf 'services:\n  web:\n    endpoints: [127.0.0.1:18581]\n    faults: { allow_request_headers: true }\n  dead:\n    endpoints: [127.0.0.1:1]\n    retries: { attempts: 0 }\n' \
    >"$WORK/registry.yaml"
daemon() {  # daemon NAME PORT ADMIN_PORT TRACING_YAML [ENV...]
    local name=$1 port=$2 admin=$3 tracing=$4
    shift 4
    printf 'listen: 127.0.0.1:%s\nadmin: { listen: 127.0.0.1:%s }\nregistry: registry.yaml\n%s\n' "$port" "$admin" "$tracing" \
        >"$WORK/$name.yaml"
    env "$@" "$BIN" run --config "$WORK/$name.yaml" 2>"$WORK/$name.log" &
    EXTRA+=($!)
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$admin/ready" && return 0; sleep 0.1; done
    fail "$name did not start: $(tail -3 "$WORK/$name.log")"
}
for _ in $(seq 1 100); do python3 -c 'import socket; [socket.create_connection(("127.0.0.1", p)).close() for p in (18581, 14381, 14382)]' 2>/dev/null && break; sleep 0.1; done
# Daemon 1: the file sets protobuf and a header; OTEL_EXPORTER_OTLP_PROTOCOL=http/json must not override it.
daemon one 15181 9981 "tracing:
  otlp:
    endpoint: http://127.0.0.1:14381/v1/traces
    protocol: http/protobuf
    headers: { authorization: Bearer s3cret }
    service_name: edge-proxy" OTEL_EXPORTER_OTLP_PROTOCOL=http/json
# Daemon 2: no otlp block; the variables turn export on (signal-specific before general ones).
daemon two 15182 9982 "" OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14382 OTEL_EXPORTER_OTLP_PROTOCOL=http/json \
    OTEL_SERVICE_NAME=from-env "OTEL_EXPORTER_OTLP_TRACES_HEADERS=x-tenant=t%201" OTEL_EXPORTER_OTLP_HEADERS=x-general=g

python3 - "$WORK" <<'PY' || fail "spans"
import concurrent.futures, json, os, secrets, sys, time, urllib.request, urllib.error
work = sys.argv[1]
def get(port, host, headers=None, path="/a/b?q=1"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
def spans(name):
    path = f"{work}/{name}.jsonl"
    lines = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    return [l for l in lines if l["type"] == "span"], [l for l in lines if l["type"] == "request"]
def wait_for(name, count, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        got, _ = spans(name)
        if len(got) >= count:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{name}: {len(spans(name)[0])} spans, want {count}")

# Sampled callers: one span each, in the caller's trace, parented on the caller's span, with the span id the
# upstream received. Unsampled callers: none. No trace header: a new trace (sample_ratio 1).
expected = {}
for _ in range(20):
    trace, parent = secrets.token_hex(16), secrets.token_hex(8)
    status, body = get(15181, "web", {"traceparent": f"00-{trace}-{parent}-01"})
    sent = json.loads(body)["traceparent"].split("-")
    assert status == 200 and sent[1] == trace and sent[2] != parent, (status, sent)
    expected[sent[2]] = (trace, parent)
for _ in range(5):
    status, body = get(15181, "web", {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"})
    assert status == 200
fresh = [json.loads(get(15181, "web")[1])["traceparent"].split("-") for _ in range(5)]
got = wait_for("c1", 25)
time.sleep(1.5)
got, requests = spans("c1")
assert len(got) == 25, f"{len(got)} spans for 25 sampled requests (5 unsampled must give none)"
by_id = {s["span_id"]: s for s in got}
for span_id, (trace, parent) in expected.items():
    s = by_id[span_id]
    assert s["trace_id"] == trace and s["parent_span_id"] == parent, s
    assert s["kind"] == 3 and s["name"] == "GET" and s["status"]["code"] == 0, s
    a = s["attributes"]
    assert a["http.request.method"] == "GET" and a["url.path"] == "/a/b" and a["server.address"] == "127.0.0.1", a
    assert a["server.port"] == 18581 and a["http.response.status_code"] == 200, a
    assert a["network.protocol.version"] == "1.1" and a["outrigger.service"] == "web" and a["outrigger.attempts"] == 1, a
    assert s["end"] >= s["start"] > 0 and s["resource"]["service.name"] == "edge-proxy", s
for _, trace, span_id, _ in fresh:
    assert by_id[span_id]["trace_id"] == trace and by_id[span_id]["parent_span_id"] == "", by_id[span_id]
# Protobuf (the file wins over OTEL_EXPORTER_OTLP_PROTOCOL), gzip, the configured header; the first two exports
# got 503 with Retry-After and were retried.
assert all(r["content_type"] == "application/x-protobuf" and r["content_encoding"] == "gzip" for r in requests), requests
assert all(r["headers"].get("authorization") == "Bearer s3cret" for r in requests), requests
print(f"otlp: 25 spans in {len(requests)} accepted exports after 2 refused", flush=True)

# Errors: status error with outrigger.error; retries: one event each, with the failure that caused it.
status, _ = get(15181, "dead")
assert status == 502
status, _ = get(15181, "web", {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01", "x-outrigger-fault-abort": "503"})
assert status == 503
got = wait_for("c1", 27)
dead = [s for s in got if s["attributes"].get("outrigger.service") == "dead"][0]
assert dead["status"]["code"] == 2 and dead["attributes"]["outrigger.error"] == "upstream_connect_failed", dead
assert dead["attributes"]["http.response.status_code"] == 502 and dead["status"]["message"] == "upstream_connect_failed", dead
retried = [s for s in got if s["attributes"].get("http.response.status_code") == 503][0]
assert retried["attributes"]["outrigger.attempts"] == 3 and retried["status"]["code"] == 2, retried
assert [e["name"] for e in retried["events"]] == ["retry", "retry"], retried["events"]
assert [e["attributes"]["outrigger.retry.reason"] for e in retried["events"]] == ["http_503", "http_503"], retried["events"]
assert [e["attributes"]["outrigger.attempt"] for e in retried["events"]] == [2, 3], retried["events"]
print("otlp: error status and retry events ok", flush=True)

# Batching: 600 requests at once leave in batches of at most 512.
before = len(spans("c1")[1])
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    assert all(s == 200 for s, _ in pool.map(lambda _: get(15181, "web"), range(600)))
got = wait_for("c1", 627)
sizes = [r["spans"] for r in spans("c1")[1][before:]]
assert sum(sizes) == 600 and max(sizes) <= 512 and len(sizes) >= 2, sizes
print(f"otlp: 600 spans in exports of {sizes}", flush=True)

# Daemon 2: http/json, service name and headers from the variables; the general header list is not used when the
# signal-specific one is set.
trace = secrets.token_hex(16)
status, body = get(15182, "web", {"traceparent": f"00-{trace}-{secrets.token_hex(8)}-01"})
got = wait_for("c2", 1)
_, requests = spans("c2")
assert got[0]["trace_id"] == trace and got[0]["resource"]["service.name"] == "from-env", got[0]
assert requests[0]["content_type"] == "application/json", requests[0]
assert requests[0]["headers"].get("x-tenant") == "t 1" and "x-general" not in requests[0]["headers"], requests[0]
print("otlp: http/json and the OTEL_* variables ok", flush=True)
PY
curl -s http://127.0.0.1:9981/stats | python3 -c '
import json, sys
e = json.load(sys.stdin)["span_export"]
assert e["exported"] == 627 and e["dropped"] == 0 and e["protocol"] == "http/protobuf", e' || fail "stats: $(curl -s http://127.0.0.1:9981/stats | grep -A8 span_export)"
curl -s http://127.0.0.1:9981/metrics | grep -q '^outrigger_spans_exported_total 627' || fail "metrics"

# A dead collector costs requests nothing: 300 requests with export to a closed port, against 300 with export off.
daemon dead 15183 9983 "tracing:
  otlp:
    endpoint: http://127.0.0.1:1/v1/traces"
daemon off 15184 9984 ""
python3 - <<'PY' || fail "latency with the collector down"
import statistics, time, urllib.request
def timings(port):
    out = []
    for _ in range(300):
        started = time.perf_counter()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "web"})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        out.append((time.perf_counter() - started) * 1000)
    return out
timings(15184)  # warm up both paths
down, off = timings(15183), timings(15184)
p50_down, p50_off = statistics.median(down), statistics.median(off)
p99_down = sorted(down)[296]
print(f"otlp: 300 requests, collector down: p50 {p50_down:.2f} ms, p99 {p99_down:.2f} ms; export off: p50 {p50_off:.2f} ms", flush=True)
assert p50_down <= p50_off * 1.5 + 1.0, (p50_down, p50_off)
PY
dropped=
for _ in $(seq 1 200); do
    dropped=$(curl -s http://127.0.0.1:9983/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["span_export"]["dropped"])')
    [ "$dropped" -ge 300 ] && break
    sleep 0.1
done
[ "$dropped" -ge 300 ] || fail "spans to a dead collector not counted as dropped: $dropped"
grep -q "span export failed: spans dropped" "$WORK/dead.log" || fail "no log line for the failed export"
echo "otlp: ok"
