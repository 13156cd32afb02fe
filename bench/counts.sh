#!/usr/bin/env bash
# Work per proxied request, for a fixed request mix: syscalls, context switches, mallocs and CPU per request.
#
# - Upstream: nginx serving a 64 B file on 127.0.0.1:18580 (LOAD_CPU); Outrigger pinned to PROXY_CPU, workers: 1.
# - Load: wrk -t1 -c CONNS keep-alive GETs of the 64 B file for DURATION seconds, after a 2 s warm-up.
# - Syscalls: `perf stat -e 'syscalls:sys_enter_*'` on the daemon over the run, per request, by name.
# - Context switches: voluntary + involuntary over all the daemon's threads (/proc/PID/task/*/status).
# - Mallocs: a perf uprobe on libc's malloc (skipped when perf cannot place it).
# - CPU: utime + stime of the daemon (/proc/PID/stat) over the run.
#
# Usage: bench/counts.sh [BIN]   (default .build/release/outrigger; env DURATION=10 CONNS=64 SIZE=64 PROXY_CPU=0 LOAD_CPU=1)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/outrigger}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
for tool in nginx wrk perf taskset python3; do
    command -v "$tool" >/dev/null || { echo "counts: missing $tool (apt-get install nginx-light wrk linux-perf)"; exit 1; }
done
[ -x "$BIN" ] || swift build -c release >/dev/null
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
UP=18580 P=18581 A=18582
mkdir -p "$WORK/www" "$WORK/ngx"
head -c "${SIZE:-64}" /dev/zero | tr '\0' x >"$WORK/www/small"
cat >"$WORK/ngx/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/ngx/pid; error_log $WORK/ngx/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; server { listen 127.0.0.1:$UP; root $WORK/www; } }
CONF
printf 'listen: 127.0.0.1:%s\nadmin: { listen: 127.0.0.1:%s }\nworkers: 1\naccess_log: off\nregistry: registry.yaml\n' \
    $P $A >"$WORK/outrigger.yaml"
printf 'services:\n  bench:\n    endpoints: [127.0.0.1:%s]\n' $UP >"$WORK/registry.yaml"
taskset -c "$LOAD_CPU" nginx -p "$WORK/ngx" -c "$WORK/ngx/nginx.conf" & PIDS+=($!)
taskset -c "$PROXY_CPU" "$BIN" run --config "$WORK/outrigger.yaml" --log-level warning & DAEMON=$!; PIDS+=($DAEMON)
for _ in $(seq 1 100); do curl -fs -o /dev/null -H 'Host: bench' "http://127.0.0.1:$P/small" && break; sleep 0.1; done

MALLOC_EVENT=""
LIBC=$(awk '$6 ~ /libc\.so/ {print $6; exit}' "/proc/$DAEMON/maps")
if perf probe -q -x "$LIBC" --add malloc 2>/dev/null || perf probe -l 2>/dev/null | grep -q "probe_libc:malloc"; then
    MALLOC_EVENT="-e probe_libc:malloc"
fi
switches() { cat /proc/"$DAEMON"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
ticks() { awk '{print $14+$15}' "/proc/$DAEMON/stat"; }

taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s -H 'Host: bench' "http://127.0.0.1:$P/small" >/dev/null
# Pass 1, nothing attached: CPU and context switches.
sw0=$(switches); t0=$(ticks)
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Host: bench' "http://127.0.0.1:$P/small" >"$WORK/wrk1.txt"
sw1=$(switches); t1=$(ticks)
# Pass 2, counted by perf (the probes cost CPU, so pass 1's CPU is the figure to read).
# shellcheck disable=SC2086
perf stat -x, -o "$WORK/perf.txt" -e 'syscalls:sys_enter_*' $MALLOC_EVENT -p "$DAEMON" -- sleep "$DURATION" &
PERF=$!
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Host: bench' "http://127.0.0.1:$P/small" >"$WORK/wrk.txt"
wait $PERF || true
python3 - "$WORK/wrk1.txt" "$WORK/wrk.txt" "$WORK/perf.txt" "$((sw1 - sw0))" "$((t1 - t0))" "$(getconf CLK_TCK)" \
    "$(git rev-parse --short HEAD)" "$CONNS" "${SIZE:-64}" <<'PY'
import re, sys
wrk1, wrk, perf, switches, ticks, hz, rev, conns, size = sys.argv[1:10]
switches, ticks, hz = int(switches), int(ticks), int(hz)
requests = lambda path: int(re.search(r"(\d+) requests in", open(path).read()).group(1))
total1, total = requests(wrk1), requests(wrk)
calls, mallocs = {}, None
for line in open(perf):
    parts = line.strip().split(",")
    if len(parts) < 3 or not parts[0].isdigit():
        continue
    count, event = int(parts[0]), parts[2]
    if event.startswith("syscalls:sys_enter_") and count:
        calls[event[len("syscalls:sys_enter_"):]] = count
    elif "malloc" in event:
        mallocs = count
print(f"counts at {rev}: {size} B GETs, wrk -c{conns}; {total1} requests unprobed, {total} probed")
print(f"  CPU            {ticks / hz * 1e6 / total1:8.2f} us/request")
print(f"  syscalls       {sum(calls.values()) / total:8.2f} /request")
for name, count in sorted(calls.items(), key=lambda kv: -kv[1])[:10]:
    print(f"    {name:<16} {count / total:6.2f}")
print(f"  ctx switches   {switches / total1:8.3f} /request")
if mallocs is not None:
    print(f"  mallocs        {mallocs / total:8.2f} /request")
PY
