#!/usr/bin/env bash
# Outrigger's memory as an operator sees it: RSS idle after start, and kB per idle keep-alive client connection
# (CONNS connections, default 1000, each having made one proxied request, then left open and idle).
# Usage: bench/memory.sh [BIN]     (default .build/release/outrigger; env CONNS=1000)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/outrigger}
CONNS=${CONNS:-1000}
[ -x "$BIN" ] || swift build -c release >/dev/null
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
P=18480 A=18489 UP=18481
python3 -m http.server $UP --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 & PIDS+=($!)
printf 'listen: 127.0.0.1:%s\nadmin: { listen: 127.0.0.1:%s }\nworkers: 1\naccess_log: off\nregistry: registry.yaml\n' \
    $P $A >"$WORK/outrigger.yaml"
printf 'services:\n  mem:\n    endpoints: [127.0.0.1:%s]\n' $UP >"$WORK/registry.yaml"
echo hello >"$WORK/index.html"
"$BIN" run --config "$WORK/outrigger.yaml" --log-level warning & DAEMON=$!; PIDS+=($DAEMON)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$A/ready" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$DAEMON/status"; }
sleep 1
idle=$(rss)
ulimit -n 4096
python3 - "$P" "$CONNS" "$DAEMON" "$idle" <<'PY'
import socket, sys, time
port, count, pid, idle = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
socks = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: mem\r\n\r\n")
    data = b""
    while b"hello" not in data:
        data += s.recv(4096)
    socks.append(s)
time.sleep(1)
after = rss()
print(f"memory: idle RSS {idle / 1024:.1f} MB; with {count} idle keep-alive connections {after / 1024:.1f} MB: "
      f"{(after - idle) / count:.1f} kB per connection")
PY
