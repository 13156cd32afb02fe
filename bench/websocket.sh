#!/usr/bin/env bash
# WebSocket relay figures: Python websockets echo round trips (64 B) and a one-way flood, directly and through
# nginx, HAProxy and a release build of Outrigger (one worker each), in the same run. The client and server are Python (the slower party), so the
# ratio shows what the relay adds, not the relay's ceiling. Env: ROUND_TRIPS (5000), FLOOD_MIB (256).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
BIN=.build/release/outrigger
WORK=$(mktemp -d)
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"; }
PIDS=()
trap cleanup EXIT
cat >"$WORK/server.py" <<'PY'
import asyncio, os, websockets
async def handler(ws):
    path = ws.request.path
    if "/flood/" in path:
        chunk = os.urandom(1 << 20)
        for _ in range(int(path.rsplit("/", 1)[1])):
            await ws.send(chunk)
        await ws.send("done")
        await ws.wait_closed()
    else:
        async for message in ws:
            await ws.send(message)
async def main():
    async with websockets.serve(handler, "127.0.0.1", 18491, max_size=None, compression=None):
        await asyncio.Future()
asyncio.run(main())
PY
python3 "$WORK/server.py" & PIDS+=($!)
printf 'services:\n  ws:\n    endpoints: [127.0.0.1:18491]\n' >"$WORK/registry.yaml"
printf 'listen: 127.0.0.1:15091\nadmin: { listen: 127.0.0.1:9991 }\nregistry: registry.yaml\naccess_log: off\nworkers: 1\nroutes:\n  - { path_prefix: /, service: ws }\n' >"$WORK/outrigger.yaml"
"$BIN" run --config "$WORK/outrigger.yaml" 2>/dev/null & PIDS+=($!)
mkdir -p "$WORK/ngx"
cat >"$WORK/ngx/nginx.conf" <<CONF
worker_processes 1; master_process off; daemon off; pid $WORK/ngx/pid; error_log $WORK/ngx/error.log;
events { worker_connections 1024; }
http { access_log off;
  server { listen 127.0.0.1:15092;
    location / { proxy_pass http://127.0.0.1:18491; proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection "upgrade"; proxy_read_timeout 60s; } } }
CONF
nginx -p "$WORK/ngx" -c "$WORK/ngx/nginx.conf" & PIDS+=($!)
printf 'global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout tunnel 60s\nfrontend f\n  bind 127.0.0.1:15093\n  default_backend b\nbackend b\n  server s1 127.0.0.1:18491\n' >"$WORK/haproxy.cfg"
haproxy -f "$WORK/haproxy.cfg" -db & PIDS+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:9991/ready && break; sleep 0.1; done
sleep 0.5
python3 bench/websocket.py direct=ws://127.0.0.1:18491/ nginx=ws://127.0.0.1:15092/ haproxy=ws://127.0.0.1:15093/ \
    outrigger=ws://127.0.0.1:15091/
