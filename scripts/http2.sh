#!/usr/bin/env bash
# HTTP/2 inbound (SPEC §10) against the binary, with real peers: curl --http2-prior-knowledge and h2load (nghttp2)
# on the plain listener, the same port still serving HTTP/1.1. Covers: h2c requests through the whole exchange
# path (routing, x-request-id, Outrigger's own errors), request bodies of known and unknown length byte-exact,
# 20 MiB each way with checksums, a download under HTTP/2 flow control, many concurrent streams on one connection, a stream whose reader
# stalls not holding the others, and the access log's protocol field; then an h2c upstream (nghttpd): 20 MiB each
# way, streams sharing its connections, a stalled client holding the upstream rather than memory, and a stream the
# upstream refused with GOAWAY opened again on a new connection.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh http2 "$@"
command -v h2load >/dev/null || { echo "http2: h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }

# The upstream: sha256 and length of what it received, a 20 MiB file, and a small page.
head -c 20971520 /dev/urandom >"$WORK/big.bin"  # 20 MiB
cat >"$WORK/upstream.py" <<PY
import hashlib, http.server
big = open("$WORK/big.bin", "rb").read()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def reply(self, body, kind="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/big":
            self.reply(big, "application/octet-stream")
        else:
            self.reply(b"hello over h2")
    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply(f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode())
http.server.ThreadingHTTPServer.request_queue_size = 512  # h2load opens many streams at once
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", 18511), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" 2>"$WORK/upstream.err" &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  web:
    endpoints: [127.0.0.1:18511]
  h2up:
    endpoints: [127.0.0.1:18512]
    protocol: h2c
  refusing:
    endpoints: [127.0.0.1:18513]
    protocol: h2c
    retries: { attempts: 0 }
YAML
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15071
admin: { listen: 127.0.0.1:9971 }
registry: registry.yaml
access_log: $WORK/access.log
limits: { max_concurrent_streams: 64, client_idle_timeout: 1s }
YAML
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:9971/ready && curl -s -o /dev/null http://127.0.0.1:18511/ && break
    sleep 0.1
done
H2=(curl -sf --http2-prior-knowledge -H 'Host: web')

out=$("${H2[@]}" -w '\n%{http_version} %{http_code} %header{x-request-id}' http://127.0.0.1:15071/page)
[ "$(head -1 <<<"$out")" = "hello over h2" ] || fail "body: $out"
read -r version code rid <<<"$(tail -1 <<<"$out")"
[ "$version" = 2 ] && [ "$code" = 200 ] && [ ${#rid} = 36 ] || fail "h2c GET: $out"
# The same port still speaks HTTP/1.1.
[ "$(curl -sf -H 'Host: web' -w ' %{http_version}' http://127.0.0.1:15071/page)" = "hello over h2 1.1" ] || fail "HTTP/1.1 on the same port"
# Outrigger's own errors, over HTTP/2.
err=$(curl -s --http2-prior-knowledge -H 'Host: nowhere' -o "$WORK/err.json" -w '%{http_version} %{http_code} %header{x-outrigger-error}' http://127.0.0.1:15071/)
[ "$err" = "2 404 unknown_service" ] && grep -q '"error":"unknown_service"' "$WORK/err.json" || fail "h2c error: $err"

# Request bodies: known length, and unknown length (no content-length: chunked to the HTTP/1.1 upstream).
head -c 20971520 /dev/urandom >"$WORK/body.bin"  # 20 MiB up
want="20971520 $(sha256sum "$WORK/body.bin" | cut -d' ' -f1)"
got=$("${H2[@]}" --data-binary @"$WORK/body.bin" http://127.0.0.1:15071/upload)
[ "$got" = "$want" ] || fail "POST with content-length: $got, want $want"
got=$("${H2[@]}" -H 'Content-Length:' -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/body.bin" http://127.0.0.1:15071/upload)
[ "$got" = "$want" ] || fail "POST without content-length: $got, want $want"

# A 20 MiB download under HTTP/2 flow control, byte-exact.
"${H2[@]}" -o "$WORK/got.bin" http://127.0.0.1:15071/big
[ "$(sha256sum <"$WORK/got.bin")" = "$(sha256sum <"$WORK/big.bin")" ] || fail "20 MiB download differs"

# Many concurrent streams on few connections: every one answered.
h2load -n 4000 -c 4 -m 50 -H 'Host: web' http://127.0.0.1:15071/page >"$WORK/h2load.txt" 2>&1 || true
grep -q "requests: 4000 total, 4000 started, 4000 done, 4000 succeeded, 0 failed" "$WORK/h2load.txt" \
    || fail "h2load: $(grep -E 'requests:|status codes' "$WORK/h2load.txt")"
grep -q "status codes: 4000 2xx" "$WORK/h2load.txt" || fail "h2load statuses: $(grep 'status codes' "$WORK/h2load.txt")"

# A stalled stream does not hold the others: one stream's 4 MiB download is not read while other streams on the
# same connection complete.
python3 - <<'PY' || fail "a stalled stream held the connection"
import socket, struct, time
# A minimal HTTP/2 client (the preface, SETTINGS with a small initial window, two streams on one connection).
def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
def headers(path):  # HPACK, literal without indexing, no Huffman
    def field(name, value):
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    block = field(b":method", b"GET") + field(b":scheme", b"http") + field(b":path", path) + field(b":authority", b"web")
    return block
s = socket.create_connection(("127.0.0.1", 15071))
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, struct.pack(">HI", 4, 65535)))
s.sendall(frame(8, 0, 0, struct.pack(">I", 16 << 20)))  # a large connection window: only stream 1 is held
s.sendall(frame(1, 0x5, 1, headers(b"/big")))      # stream 1: 20 MiB, never given more window than 64 KiB
time.sleep(0.3)
s.sendall(frame(1, 0x5, 3, headers(b"/page")))     # stream 3: small
deadline = time.time() + 10
buffer = b""
done = False
while time.time() < deadline and not done:
    s.settimeout(max(0.1, deadline - time.time()))
    chunk = s.recv(65536)
    if not chunk:
        break
    buffer += chunk
    while len(buffer) >= 9:
        length = int.from_bytes(buffer[:3], "big")
        if len(buffer) < 9 + length:
            break
        kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
        if kind == 4 and not flags & 1:
            s.sendall(frame(4, 1, 0))  # ack the server's SETTINGS
        if kind == 0 and stream == 3 and flags & 1:
            done = True
        buffer = buffer[9 + length:]
assert done, "stream 3 never completed while stream 1 was stalled"
PY

# The known HTTP/2 attacks end the connection with GOAWAY (swift-nio-http2's limits), and nothing piles up: the
# daemon answers normally right after each.
python3 - <<'PY' || fail "HTTP/2 floods"
import socket, struct, time, urllib.request
def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
def field(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
block = field(b":method", b"GET") + field(b":scheme", b"http") + field(b":path", b"/page") + field(b":authority", b"web")
def attack(name, payload):
    s = socket.create_connection(("127.0.0.1", 15071))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got_goaway, closed, buffer = False, False, b""
    deadline = time.time() + 10
    while time.time() < deadline:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            closed = True
            break
        if not chunk:
            closed = True
            break
        buffer += chunk
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            if buffer[3] == 7:
                got_goaway = True
            buffer = buffer[9 + int.from_bytes(buffer[:3], "big"):]
    assert got_goaway and closed, f"{name}: goaway={got_goaway} closed={closed}"
    with urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:15071/page", headers={"Host": "web"})) as r:
        assert r.read() == b"hello over h2", name
# Rapid reset (CVE-2023-44487): streams opened and reset at once, far past the reset rate limit.
attack("rapid reset", b"".join(frame(1, 0x5, 2 * i + 1, block) + frame(3, 0, 2 * i + 1, struct.pack(">I", 8)) for i in range(1000)))
# CONTINUATION flood (CVE-2024-27316): a header block that never ends.
attack("continuation flood", frame(1, 0, 1, block) + b"".join(frame(9, 0, 1, field(b"x-pad", b"a" * 100)) for _ in range(20000)))
# PING flood: answers the client never reads pile up until the control frame limit.
attack("ping flood", b"".join(frame(6, 0, 0, struct.pack(">Q", i)) for i in range(40000)))
PY

# client_idle_timeout (1 s here) closes an HTTP/2 connection with no open stream, with GOAWAY first; a connection
# with a stream open is not idle.
python3 - <<'PY' || fail "idle HTTP/2 connection"
import socket, struct, time
def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
def field(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
block = field(b":method", b"GET") + field(b":scheme", b"http") + field(b":path", b"/page") + field(b":authority", b"web")
s = socket.create_connection(("127.0.0.1", 15071))
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 0x5, 1, block))
answered_at, goaway_at, closed_at, buffer = None, None, None, b""
deadline = time.time() + 8
while time.time() < deadline and closed_at is None:
    s.settimeout(max(0.1, deadline - time.time()))
    chunk = s.recv(65536)
    if not chunk:
        closed_at = time.time()
        break
    buffer += chunk
    while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
        kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big")
        if kind == 4 and not flags & 1:
            s.sendall(frame(4, 1, 0))
        if kind == 0 and stream == 1 and flags & 1:
            answered_at = time.time()
        if kind == 7:
            goaway_at = time.time()
        buffer = buffer[9 + int.from_bytes(buffer[:3], "big"):]
assert answered_at and goaway_at and closed_at, (answered_at, goaway_at, closed_at)
assert 0.8 <= goaway_at - answered_at < 5, goaway_at - answered_at
PY

# HTTP/2 to an h2c upstream (protocol: h2c, Outrigger's own HTTP/2 connections): nghttpd serves files and echoes
# uploads. 20 MiB each way byte-exact from HTTP/1.1 and HTTP/2 clients, with and without content-length.
command -v nghttpd >/dev/null || fail "nghttpd is missing (apt-get install nghttp2-server)"
mkdir -p "$WORK/docroot"
cp "$WORK/big.bin" "$WORK/docroot/big.bin"
printf "from nghttpd" >"$WORK/docroot/page"
nghttpd --no-tls --echo-upload -a 127.0.0.1 -d "$WORK/docroot" 18512 >"$WORK/nghttpd.log" 2>&1 &
KEEP_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --http2-prior-knowledge http://127.0.0.1:18512/page && break; sleep 0.1; done
H2UP=(curl -sf -H 'Host: h2up')
[ "$("${H2UP[@]}" http://127.0.0.1:15071/page)" = "from nghttpd" ] || fail "GET to the h2c upstream"
[ "$("${H2UP[@]}" --http2-prior-knowledge -w ' %{http_version}' http://127.0.0.1:15071/page)" = "from nghttpd 2" ] \
    || fail "HTTP/2 GET to the h2c upstream"
big=$(sha256sum <"$WORK/big.bin")
[ "$("${H2UP[@]}" http://127.0.0.1:15071/big.bin | sha256sum)" = "$big" ] || fail "20 MiB down from the h2c upstream"
[ "$("${H2UP[@]}" --data-binary @"$WORK/big.bin" http://127.0.0.1:15071/echo | sha256sum)" = "$big" ] \
    || fail "20 MiB up and back, content-length"
[ "$("${H2UP[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big.bin" http://127.0.0.1:15071/echo | sha256sum)" = "$big" ] \
    || fail "20 MiB up and back, chunked"
[ "$("${H2UP[@]}" --http2-prior-knowledge --data-binary @"$WORK/big.bin" http://127.0.0.1:15071/echo | sha256sum)" = "$big" ] \
    || fail "20 MiB up and back, HTTP/2 both sides"
# Many streams share the upstream connections: one per event loop, whatever the number of client streams.
h2load -n 4000 -c 4 -m 50 -H 'Host: h2up' http://127.0.0.1:15071/page >"$WORK/h2load-up.txt" 2>&1 || true
grep -q "4000 succeeded, 0 failed" "$WORK/h2load-up.txt" || fail "h2load to the h2c upstream: $(grep 'requests:' "$WORK/h2load-up.txt")"
upstream_connections=$(ss -Htn state established dst 127.0.0.1:18512 | grep -c . || true)
[ "$upstream_connections" -ge 1 ] && [ "$upstream_connections" -le 2 ] \
    || fail "$upstream_connections connections to the h2c upstream after 200 concurrent streams"
# A client that stops reading holds the upstream stream (flow control), not Outrigger's memory: the daemon grows by
# far less than the 20 MiB download while the client reads nothing, and the body is whole once it reads again.
python3 - "$PROXY_PID" "$WORK/big.bin" <<'PY' || fail "a stalled client of an h2c upstream"
import hashlib, socket, sys, time
pid, want = sys.argv[1], hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
def rss_kib():
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
before = rss_kib()
s = socket.create_connection(("127.0.0.1", 15071))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: h2up\r\nConnection: close\r\n\r\n")
time.sleep(1.5)
grown = rss_kib() - before
data = b""
while True:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    data += chunk
body = data.split(b"\r\n\r\n", 1)[1]
assert hashlib.sha256(body).hexdigest() == want, len(body)
assert grown < 8 * 1024, f"the daemon grew by {grown} KiB while its client read nothing"
print(f"stalled client: daemon grew {grown} KiB", flush=True)
PY
# An upstream that refuses a stream unprocessed (GOAWAY naming a lower last stream) gets it again on a new
# connection, without a retry policy and without an error: a hand-written HTTP/2 server answers the first stream
# of its first connection, sends GOAWAY(last_stream_id=1) for the second, and answers everything on later ones.
cat >"$WORK/refusing.py" <<'PY'
import socket, struct, threading
def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
def answer(conn, stream):
    # HEADERS ":status: 200" (static table index 8), "content-length: 2" (literal, indexed name 28), then DATA.
    conn.sendall(frame(1, 0x4, stream, b"\x88" + b"\x0f\x0d\x01" + b"2") + frame(0, 0x1, stream, b"ok"))
def serve(conn, first):
    buffer, streams = b"", []
    conn.recv(24)  # the preface
    conn.sendall(frame(4, 0, 0))
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            length, kind, flags = int.from_bytes(buffer[:3], "big"), buffer[3], buffer[4]
            stream = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            buffer = buffer[9 + length:]
            if kind == 4 and not flags & 1:
                conn.sendall(frame(4, 1, 0))
            if kind == 1:
                streams.append(stream)
                if not first:
                    answer(conn, stream)
                elif len(streams) == 2:
                    answer(conn, streams[0])
                    conn.sendall(frame(7, 0, 0, struct.pack(">II", streams[0], 0)))
                    threading.Timer(0.5, conn.close).start()
listener = socket.create_server(("127.0.0.1", 18513))
first = True
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn, first), daemon=True).start()
    first = False
PY
python3 "$WORK/refusing.py" 2>"$WORK/refusing.err" &
REFUSING_PID=$!
for _ in $(seq 1 100); do python3 -c 'import socket; socket.create_connection(("127.0.0.1", 18513)).close()' 2>/dev/null && break; sleep 0.1; done
kill "$REFUSING_PID" 2>/dev/null; wait "$REFUSING_PID" 2>/dev/null || true  # the probe used its first connection
python3 "$WORK/refusing.py" 2>"$WORK/refusing.err" &
REFUSING_PID=$!
for _ in $(seq 1 100); do ss -Htln | grep -q 127.0.0.1:18513 && break; sleep 0.1; done
h2load -n 2 -c 1 -m 2 -H 'Host: refusing' http://127.0.0.1:15071/r >"$WORK/h2load-refused.txt" 2>&1 || true
kill "$REFUSING_PID" 2>/dev/null || true
grep -q "2 succeeded, 0 failed" "$WORK/h2load-refused.txt" \
    || fail "a refused stream: $(grep -E 'requests:|status codes' "$WORK/h2load-refused.txt"; tail -3 "$WORK/access.log")"

# The access log names the protocol.
grep -q '"path":"/page","protocol":"HTTP/2"' "$WORK/access.log" || fail "access log: no HTTP/2 line"
grep -q '"path":"/page","protocol":"HTTP/1.1"' "$WORK/access.log" || fail "access log: no HTTP/1.1 line"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=
echo "http2: ok"
