#!/usr/bin/env bash
# Streams a 1 GiB upload and a 1 GiB download through the outrigger binary and checks that its resident
# memory grows by less than 64 MiB (SPEC §4: bodies stream with bounded memory), and that the bytes arrive
# whole (sha256 on both sides).
#
# Usage: scripts/stream-rss.sh [BINARY]     (default .build/debug/outrigger; SIZE_MB=1024)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/outrigger}
SIZE_MB=${SIZE_MB:-1024}
LIMIT_KB=$((64 * 1024))
CHECK=stream-rss
# shellcheck source=lib/check.sh
source scripts/lib/check.sh

cat >"$WORK/upstream.py" <<'PY'
import hashlib, http.server, sys
SIZE = int(sys.argv[2]) * 1024 * 1024
BLOCK = bytes(range(256)) * 256  # 64 KiB, position-dependent pattern

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        left = SIZE
        while left:
            n = min(left, len(BLOCK))
            self.wfile.write(BLOCK[:n])
            left -= n
    def do_PUT(self):
        digest, left = hashlib.sha256(), int(self.headers["Content-Length"])
        while left:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk: break
            digest.update(chunk)
            left -= len(chunk)
        body = digest.hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" 18190 "$SIZE_MB" & PIDS+=($!)
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:18191
admin: { listen: 127.0.0.1:18192 }
registry: registry.yaml
workers: 1
defaults: { request_timeout: 0, idle_timeout: 30s }
YAML
printf 'services:\n  bulk:\n    endpoints: [127.0.0.1:18190]\n' >"$WORK/registry.yaml"
"$BIN" run --config "$WORK/outrigger.yaml" --log-level warning & OPID=$!; PIDS+=($OPID)
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18191/ && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$OPID/status"; }
watch_rss() { local max=0 v; while kill -0 "$OPID" 2>/dev/null; do v=$(rss); [ "$v" -gt "$max" ] && max=$v && echo "$max" >"$WORK/max"; sleep 0.05; done; }
curl -s -o /dev/null -H 'Host: bulk' http://127.0.0.1:18191/warmup -r 0-0 || true
base=$(rss)
echo "$base" >"$WORK/max"
watch_rss & PIDS+=($!)

# Download: the upstream's pattern, hashed as it arrives.
expected=$(python3 -c "
import hashlib; b=bytes(range(256))*256; h=hashlib.sha256(); left=$SIZE_MB*1024*1024
while left: n=min(left,len(b)); h.update(b[:n]); left-=n
print(h.hexdigest())")
got=$(curl -s -H 'Host: bulk' http://127.0.0.1:18191/big | sha256sum | cut -d' ' -f1)
[ "$got" = "$expected" ] || { echo "download: sha256 $got, want $expected"; exit 1; }

# Upload: a file of the same size, hashed by the upstream as it streams in.
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$WORK/upload.bin"
want=$(sha256sum "$WORK/upload.bin" | cut -d' ' -f1)
got=$(curl -s -T "$WORK/upload.bin" -H 'Host: bulk' http://127.0.0.1:18191/up)
[ "$got" = "$want" ] || { echo "upload: upstream saw sha256 $got, want $want"; exit 1; }

max=$(cat "$WORK/max")
growth=$((max - base))
echo "stream-rss: ${SIZE_MB} MiB down and up intact; RSS $((base / 1024)) MiB at rest, peak $((max / 1024)) MiB, growth $((growth / 1024)) MiB (limit 64)"
[ "$growth" -lt "$LIMIT_KB" ] || { echo "stream-rss: RSS grew by $((growth / 1024)) MiB"; exit 1; }
