#!/usr/bin/env bash
# WebSocket through the binary (SPEC §10), with Python's `websockets` as both the client and the upstream:
# text and binary echo, a 1 MiB message, server-initiated messages and close code, a flood into a slow reader
# (Outrigger's RSS stays bounded), request_timeout ending at the 101 while idle_timeout still applies, a refused
# handshake passed back and not retried, /stats counting upgraded connections, and the access log line written
# at the end with the bytes each way.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh websocket "$@"
python3 -c 'import websockets' 2>/dev/null || { echo "websocket: Python's websockets package is missing (pip install websockets)" >&2; exit 1; }

cat >"$WORK/upstream.py" <<'PY'
import asyncio, http.server, os, sys, threading
import websockets

async def handler(ws):
    path = ws.request.path
    if path.startswith("/ws/push"):
        for i in range(3):
            await ws.send(f"push {i}")
        await ws.close(code=4001, reason="bye")
    elif path.startswith("/ws/flood"):
        chunk = os.urandom(1 << 20)
        for _ in range(64):
            await ws.send(chunk)
        await ws.send("done")
        await ws.wait_closed()
    else:
        async for message in ws:
            await ws.send(message)

class Refuse(http.server.BaseHTTPRequestHandler):
    count = 0
    def log_message(self, *args): pass
    def do_GET(self):
        if self.path == "/count":
            body = str(Refuse.count).encode()
            self.send_response(200)
        else:
            Refuse.count += 1
            body = b"no websockets here"
            self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

async def main():
    threading.Thread(target=http.server.HTTPServer(("127.0.0.1", 18482), Refuse).serve_forever, daemon=True).start()
    async with websockets.serve(handler, "127.0.0.1", 18481, max_size=None):
        await asyncio.Future()

asyncio.run(main())
PY
python3 "$WORK/upstream.py" 2>"$WORK/upstream.err" &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  ws:
    endpoints: [127.0.0.1:18481]
    request_timeout: 1s
  idle:
    endpoints: [127.0.0.1:18481]
    idle_timeout: 500ms
  refuse:
    endpoints: [127.0.0.1:18482]
    retries: { attempts: 3, retry_on: [503] }
YAML
# A TLS listener too: wss:// from the client, ws:// to the upstream.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/server.key" -out "$WORK/server.pem" -days 1 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" 2>/dev/null
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15041
tls: { listen: 127.0.0.1:15445, cert_file: server.pem, key_file: server.key }
admin: { listen: 127.0.0.1:9941 }
registry: registry.yaml
access_log: $WORK/access.log
routes:
  - { path_prefix: /ws/, service: ws }
  - { path_prefix: /idle/, service: idle }
  - { path_prefix: /refuse/, service: refuse }
YAML
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:9941/ready && curl -s -o /dev/null http://127.0.0.1:18482/count && break
    sleep 0.1
done

cat >"$WORK/client.py" <<'PY'
import asyncio, json, os, ssl, sys, time, urllib.request
import websockets

PROXY = "ws://127.0.0.1:15041"
PID = int(sys.argv[1])

def stats():
    return json.load(urllib.request.urlopen("http://127.0.0.1:9941/stats"))["connections"]["upgraded"]

def cpu_ticks():
    fields = open(f"/proc/{PID}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime

def rss_kib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

async def main():
    async with websockets.connect(PROXY + "/ws/echo", max_size=None) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        big = os.urandom(1 << 20)  # 1 MiB, incompressible
        await ws.send(big)
        assert await ws.recv() == big
        assert stats()["open"] == 1, stats()
        # request_timeout (1s) ends at the 101: the tunnel outlives it. Meanwhile an open, quiet tunnel costs no
        # CPU: nothing polls its socket in a loop (CPU time consumed, not wall time, so a busy machine does not
        # change it; a spinning thread would use ~150 ticks here).
        ticks = cpu_ticks()
        await asyncio.sleep(1.5)
        spent = cpu_ticks() - ticks
        assert spent < 40, f"an idle tunnel used {spent} ticks of CPU in 1.5 s"
        await ws.send("still here")
        assert await ws.recv() == "still here"
    print("echo ok", flush=True)

    async with websockets.connect(PROXY + "/ws/push") as ws:
        got = [await ws.recv() for _ in range(3)]
        assert got == ["push 0", "push 1", "push 2"], got
        try:
            await ws.recv()
            raise AssertionError("no close")
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd.code == 4001 and closed.rcvd.reason == "bye", closed
    print("server close ok", flush=True)

    # idle_timeout applies to the tunnel: no byte for 500 ms closes it.
    async with websockets.connect(PROXY + "/idle/echo", ping_interval=None) as ws:
        started = time.monotonic()
        try:
            await asyncio.wait_for(ws.recv(), timeout=10)
            raise AssertionError("idle tunnel not closed")
        except websockets.ConnectionClosed:
            pass
        assert 0.4 < time.monotonic() - started < 5, time.monotonic() - started
    print("idle ok", flush=True)

    # A slow reader: 64 MiB flooded at a client that reads nothing for 2 s. Outrigger holds at most its socket
    # buffers and a few reads, not the flood.
    before = rss_kib()
    async with websockets.connect(PROXY + "/ws/flood", max_size=None, max_queue=1) as ws:
        await asyncio.sleep(2)
        during = rss_kib()
        total = 0
        while True:
            message = await ws.recv()
            if message == "done":
                break
            total += len(message)
        assert total == 64 << 20, total
    growth = during - before
    print(f"flood ok: rss before {before} KiB, while stalled {during} KiB", flush=True)
    assert growth < 24 * 1024, f"RSS grew by {growth} KiB while the reader stalled"

    # A refused handshake comes back as it was, and is not retried (retry_on has 503).
    try:
        async with websockets.connect(PROXY + "/refuse/x"):
            raise AssertionError("refused handshake accepted")
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 503, refused.response.status_code
        assert refused.response.body == b"no websockets here", refused.response.body
    count = urllib.request.urlopen("http://127.0.0.1:18482/count").read()
    assert count == b"1", f"the upstream saw {count} handshakes"
    print("refused ok", flush=True)

    # wss:// on the TLS listener, relayed to the ws:// upstream.
    context = ssl.create_default_context(cafile=sys.argv[2])
    async with websockets.connect("wss://localhost:15445/ws/echo", ssl=context) as ws:
        await ws.send("over tls")
        assert await ws.recv() == "over tls"
    print("wss ok", flush=True)

    deadline = time.monotonic() + 5
    while stats()["open"] != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    s = stats()
    assert s["open"] == 0 and s["total"] == 5, s

asyncio.run(main())
PY
python3 "$WORK/client.py" "$PROXY_PID" "$WORK/server.pem" || fail "client failed"

# The access log: one line per upgraded connection, written at its end, with the bytes each way.
python3 - "$WORK/access.log" <<'PY' || fail "access log: $(cat "$WORK/access.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
echo = [l for l in lines if l["path"] == "/ws/echo"]
assert len(echo) == 2, lines  # the ws:// echo, then the wss:// one
echo = echo[0]
assert echo["status"] == 101 and echo["service"] == "ws", echo
assert echo["bytes_in"] > (1 << 20) and echo["bytes_out"] > (1 << 20), echo
assert echo["duration_ms"] > 1500, echo
idle = [l for l in lines if l["path"] == "/idle/echo"][0]
assert idle["status"] == 101 and idle["error"] == "idle_timeout", idle
flood = [l for l in lines if l["path"] == "/ws/flood"][0]
assert flood["bytes_out"] > (64 << 20), flood
refused = [l for l in lines if l["path"] == "/refuse/x"][0]
assert refused["status"] == 503 and refused["attempts"] == 1, refused
PY
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=
echo "websocket: ok"
