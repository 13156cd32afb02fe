#!/usr/bin/env bash
# gRPC through the binary (SPEC §10), with Python's grpcio as client and server (generic handlers and the standard
# health service, no generated code): unary, server, client and bidirectional streaming over h2c to an h2c
# upstream, trailers and custom metadata passed through, an upstream's own error status, deadlines, Outrigger's
# errors as gRPC statuses, the breaker opened by grpc-status 14, concurrent calls sharing upstream connections,
# and grpc_status in /stats and the access log. Every call runs twice: to a cleartext upstream (protocol: h2c, on
# Outrigger's own HTTP/2 connections) and to a TLS one (HTTP/2 by ALPN, through libcurl).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh grpc "$@"
python3 -c 'import grpc, grpc_health' 2>/dev/null || { echo "grpc: grpcio and grpcio-health-checking are missing (pip install)" >&2; exit 1; }

cat >"$WORK/server.py" <<'PY'
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

def unary(request, context):
    context.set_trailing_metadata((("x-custom", "trailer-value"),))
    return request
def server_stream(request, context):
    for i in range(5):
        yield request + str(i).encode()
def client_stream(requests, context):
    return str(sum(len(r) for r in requests)).encode()
def bidi(requests, context):
    for r in requests:
        yield r.upper()
def fail(request, context):
    context.set_trailing_metadata((("x-why", "because"),))
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad input: " + request.decode())
def slow(request, context):
    time.sleep(2)
    return request
def unavailable(request, context):
    context.abort(grpc.StatusCode.UNAVAILABLE, "shedding")
def pause(request, context):
    time.sleep(0.3)
    return request

ident = lambda b: b
handlers = grpc.method_handlers_generic_handler("test.Echo", {
    "Unary": grpc.unary_unary_rpc_method_handler(unary, ident, ident),
    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, ident, ident),
    "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, ident, ident),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi, ident, ident),
    "Fail": grpc.unary_unary_rpc_method_handler(fail, ident, ident),
    "Slow": grpc.unary_unary_rpc_method_handler(slow, ident, ident),
    "Unavailable": grpc.unary_unary_rpc_method_handler(unavailable, ident, ident),
    "Pause": grpc.unary_unary_rpc_method_handler(pause, ident, ident),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
server.add_generic_rpc_handlers((handlers,))
checker = health.HealthServicer()
checker.set("", health_pb2.HealthCheckResponse.SERVING)
health_pb2_grpc.add_HealthServicer_to_server(checker, server)
server.add_insecure_port("127.0.0.1:18521")
# The same service over TLS, for HTTP/2 by ALPN (protocol: auto to an https:// endpoint).
key, cert = open(sys.argv[1] + "/server.key", "rb").read(), open(sys.argv[1] + "/server.pem", "rb").read()
server.add_secure_port("127.0.0.1:18522", grpc.ssl_server_credentials([(key, cert)]))
server.start()
# A server that rotates its connections (GOAWAY after 200 ms, as max_connection_age does in production).
aging = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=[
    ("grpc.max_connection_age_ms", 200), ("grpc.max_connection_age_grace_ms", 5000)])
aging.add_generic_rpc_handlers((handlers,))
aging.add_insecure_port("127.0.0.1:18523")
aging.start()
server.wait_for_termination()
PY
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/server.key" -out "$WORK/server.pem" -days 1 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" 2>/dev/null
python3 "$WORK/server.py" "$WORK" 2>"$WORK/server.err" &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  echo:
    endpoints: [127.0.0.1:18521]
    protocol: h2c
  echo-tls:
    endpoints: [https://127.0.0.1:18522]
    tls: { ca_file: server.pem, server_name: localhost }
  dead:
    endpoints: [127.0.0.1:1]
    protocol: h2c
    retries: { attempts: 0 }
  shedding:
    endpoints: [127.0.0.1:18521]
    protocol: h2c
    retries: { attempts: 0 }
    breaker: { consecutive_failures: 3, open_for: 30s }
  timing:
    endpoints: [127.0.0.1:18521]
    protocol: h2c
    request_timeout: 300ms
  timing-tls:
    endpoints: [https://127.0.0.1:18522]
    tls: { ca_file: server.pem, server_name: localhost }
    request_timeout: 300ms
  aging:
    endpoints: [127.0.0.1:18523]
    protocol: h2c
    retries: { attempts: 0 }
  shedding-tls:
    endpoints: [https://127.0.0.1:18522]
    tls: { ca_file: server.pem, server_name: localhost }
    retries: { attempts: 0 }
    breaker: { consecutive_failures: 3, open_for: 30s }
YAML
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15081
admin: { listen: 127.0.0.1:9981 }
registry: registry.yaml
access_log: $WORK/access.log
YAML
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:9981/ready && python3 -c 'import socket; socket.create_connection(("127.0.0.1", 18522)).close()' 2>/dev/null && break
    sleep 0.1
done

cat >"$WORK/client.py" <<'PY'
import json, sys, time, urllib.request
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

def channel(authority):
    return grpc.insecure_channel("127.0.0.1:15081", options=[("grpc.default_authority", authority)])

# argv: the echo service's name, its shedding twin's, and the upstream port (to count connections).
ECHO, SHEDDING, PORT = sys.argv[1], sys.argv[2], sys.argv[3]
print(f"--- {ECHO}", flush=True)
ident = lambda b: b
echo = channel(ECHO)
unary = echo.unary_unary("/test.Echo/Unary", request_serializer=ident, response_deserializer=ident)
reply, call = unary.with_call(b"hello", timeout=5)
assert reply == b"hello", reply
assert ("x-custom", "trailer-value") in call.trailing_metadata(), call.trailing_metadata()
print("unary ok", flush=True)

stream = echo.unary_stream("/test.Echo/ServerStream", request_serializer=ident, response_deserializer=ident)
assert list(stream(b"n", timeout=5)) == [b"n0", b"n1", b"n2", b"n3", b"n4"]
client = echo.stream_unary("/test.Echo/ClientStream", request_serializer=ident, response_deserializer=ident)
assert client(iter([b"ab", b"cde", b"f" * 100000]), timeout=5) == b"100005"
bidi = echo.stream_stream("/test.Echo/Bidi", request_serializer=ident, response_deserializer=ident)
assert list(bidi(iter([b"a", b"bb", b"ccc"]), timeout=5)) == [b"A", b"BB", b"CCC"]
print("streaming ok", flush=True)

fail = echo.unary_unary("/test.Echo/Fail", request_serializer=ident, response_deserializer=ident)
try:
    fail(b"x", timeout=5)
    raise AssertionError("no error")
except grpc.RpcError as error:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "bad input: x", error
    assert ("x-why", "because") in error.trailing_metadata(), error.trailing_metadata()
print("upstream status ok", flush=True)

slow = echo.unary_unary("/test.Echo/Slow", request_serializer=ident, response_deserializer=ident)
started = time.monotonic()
try:
    slow(b"x", timeout=0.5)
    raise AssertionError("no deadline")
except grpc.RpcError as error:
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
assert time.monotonic() - started < 1.9
# Outrigger's own request_timeout (300 ms) ends a call the client would have waited 5 s for.
started = time.monotonic()
try:
    channel(ECHO.replace("echo", "timing")).unary_unary("/test.Echo/Slow", request_serializer=ident, response_deserializer=ident)(b"x", timeout=5)
    raise AssertionError("no timeout")
except grpc.RpcError as error:
    metadata = dict(error.trailing_metadata() or ()) | dict(error.initial_metadata() or ())
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and metadata.get("x-outrigger-error") == "upstream_timeout", (error, metadata)
assert time.monotonic() - started < 1.9
print("deadline ok", flush=True)

health = health_pb2_grpc.HealthStub(echo)
assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
print("health ok", flush=True)

def outrigger_error(authority):
    try:
        channel(authority).unary_unary("/test.Echo/Unary", request_serializer=ident, response_deserializer=ident)(b"x", timeout=5)
    except grpc.RpcError as error:
        return error.code(), dict(error.trailing_metadata() or ()) | dict(error.initial_metadata() or ())
    raise AssertionError("no error from " + authority)
# 400 calls in a row: none may be lost (libcurl 7.88 lost about 1 in 40 over h2c, docs/http2.md).
for i in range(400):
    assert unary(b"r%d" % i, timeout=5) == b"r%d" % i
print("400 sequential calls ok", flush=True)

code, metadata = outrigger_error("nosuch")
assert code == grpc.StatusCode.UNIMPLEMENTED and metadata.get("x-outrigger-error") == "unknown_service", (code, metadata)
code, metadata = outrigger_error("dead")
assert code == grpc.StatusCode.UNAVAILABLE and metadata.get("x-outrigger-error") == "upstream_connect_failed", (code, metadata)
print("outrigger errors ok", flush=True)

# grpc-status 14 from the upstream is a failure: three open the breaker, and the fourth call gets Outrigger's
# breaker_open as UNAVAILABLE without reaching the upstream.
shed = channel(SHEDDING).unary_unary("/test.Echo/Unavailable", request_serializer=ident, response_deserializer=ident)
for attempt in range(4):
    try:
        shed(b"x", timeout=5)
        raise AssertionError("no error")
    except grpc.RpcError as error:
        metadata = dict(error.trailing_metadata() or ()) | dict(error.initial_metadata() or ())
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error
        if attempt < 3:
            assert error.details() == "shedding" and "x-outrigger-error" not in metadata, (attempt, metadata)
        else:
            assert metadata.get("x-outrigger-error") == "breaker_open", metadata
print("breaker ok", flush=True)

# A burst of 40 concurrent calls shares a few upstream connections.
import concurrent.futures, subprocess, threading
pause = channel(ECHO).unary_unary("/test.Echo/Pause", request_serializer=ident, response_deserializer=ident)
peak = [0]
stop = threading.Event()
def count():
    while not stop.is_set():
        out = subprocess.run(["ss", "-Htn", "state", "established", "dst", "127.0.0.1:" + PORT], capture_output=True, text=True).stdout
        peak[0] = max(peak[0], len([l for l in out.splitlines() if l.strip()]))
        time.sleep(0.02)
watcher = threading.Thread(target=count)
watcher.start()
with concurrent.futures.ThreadPoolExecutor(40) as pool:
    results = list(pool.map(lambda i: pause(b"p%d" % i, timeout=10), range(40)))
stop.set()
watcher.join()
assert results == [b"p%d" % i for i in range(40)]
assert 1 <= peak[0] <= 4, f"{peak[0]} connections to the upstream for 40 concurrent calls"
print(f"multiplexed ok: 40 concurrent calls on {peak[0]} upstream connection(s)", flush=True)

stats = json.load(urllib.request.urlopen("http://127.0.0.1:9981/stats"))["services"]
assert stats[ECHO]["grpc_status"]["0"] == 445 and stats[ECHO]["grpc_status"]["3"] == 1, stats[ECHO]
assert stats[SHEDDING]["grpc_status"]["14"] == 4, stats[SHEDDING]
PY
python3 "$WORK/client.py" echo shedding 18521 || fail "client failed (h2c upstream)"
python3 "$WORK/client.py" echo-tls shedding-tls 18522 || fail "client failed (TLS upstream)"
# An upstream that rotates its connections with GOAWAY every 200 ms: calls racing a GOAWAY move to a new connection
# (no retries are configured, so a lost call would fail).
python3 - <<'PY' || fail "calls to a GOAWAY-rotating upstream"
import concurrent.futures, time, grpc
ident = lambda b: b
channel = grpc.insecure_channel("127.0.0.1:15081", options=[("grpc.default_authority", "aging")])
unary = channel.unary_unary("/test.Echo/Unary", request_serializer=ident, response_deserializer=ident)
deadline = time.monotonic() + 2
def worker(n):
    count = 0
    while time.monotonic() < deadline:
        assert unary(b"a%d" % n, timeout=5) == b"a%d" % n
        count += 1
    return count
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    total = sum(pool.map(worker, range(8)))
print(f"{total} calls across connection rotations ok", flush=True)
PY
python3 -c '
import json, urllib.request
stats = json.load(urllib.request.urlopen("http://127.0.0.1:9981/stats"))["services"]
assert stats["dead"]["grpc_status"]["14"] == 2, stats["dead"]' || fail "stats of the dead service"
python3 - "$WORK/access.log" <<'PY' || fail "access log: $(tail -3 "$WORK/access.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for service in ("echo", "echo-tls"):
    unary = [l for l in lines if l["path"] == "/test.Echo/Unary" and l["service"] == service][0]
    assert unary["protocol"] == "HTTP/2" and unary["status"] == 200 and unary["grpc_status"] == 0, unary
    failed = [l for l in lines if l["path"] == "/test.Echo/Fail" and l["service"] == service][0]
    assert failed["grpc_status"] == 3, failed
PY
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=
echo "grpc: ok"
