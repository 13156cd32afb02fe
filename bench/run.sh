#!/usr/bin/env bash
# Outrigger vs nginx vs HAProxy as reverse proxies, in one run, on one machine.
#
# - One upstream for all: nginx serving a 64 B and a 16 KiB file on 127.0.0.1:18080.
# - Each proxy runs alone while measured, pinned to one core (PROXY_CPU, default 0), one worker/thread
#   (Outrigger: workers: 1, i.e. one event loop plus its curl thread, both on that core).
# - wrk (and the upstream) run on the other core (LOAD_CPU, default 1).
# - Throughput: wrk -c CONNS keep-alive GETs for DURATION seconds.
# - CPU per request: the proxy process's utime+stime (all threads, /proc/PID/stat) over the run / requests.
# - Added latency: wrk -c1 median latency through the proxy minus the median straight to the upstream.
# - Memory: each proxy's RSS (/proc/PID/status) right after its load, before it is stopped.
#
# - ROUNDS rounds, proxies interleaved in each; the summary takes each figure's median over rounds, since a
#   shared machine drifts by 10-20% between runs.
#
# Usage: bench/run.sh            (env: DURATION=10 CONNS=64 ROUNDS=3 PROXY_CPU=0 LOAD_CPU=1)
#   PROXIES="nginx haproxy outrigger" picks the proxies measured (direct is always measured);
#   OUTRIGGER_YAML="tracing: { formats: [] }" adds lines to Outrigger's config (bench/ab.sh uses both);
#   OTLP=1 adds "outrigger-otlp": Outrigger exporting a span for every request (sample_ratio 1, no caller
#   header) over OTLP/HTTP protobuf+gzip to a sink on the upstream nginx (`location = /v1/traces { return 200; }`);
#   H2=0 skips the HTTP/2 row: h2load (4 connections x 32 streams, 64 B) through each proxy's h2c listener
#   (nginx `listen ... http2`, HAProxy `proto h2`, Outrigger's one port) to the same HTTP/1.1 upstream;
#   PROFILE=1 samples Outrigger with `perf record -g` during its 64 B load and prints the share per library
#   and per thread (bench/out/profile.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PROXIES=${PROXIES:-nginx haproxy outrigger}
H2=${H2:-1}
OUTRIGGER_YAML=${OUTRIGGER_YAML:-}
OTLP=${OTLP:-0}
[ "$OTLP" = 1 ] && PROXIES="$PROXIES outrigger-otlp"
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run unprivileged and must read the files
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

for tool in nginx haproxy wrk taskset python3 $( [ "$H2" = 1 ] && echo h2load ); do
    command -v "$tool" >/dev/null || { echo "bench: missing $tool (apt-get install nginx-light haproxy wrk)"; exit 1; }
done
[ -x .build/release/outrigger ] || swift build -c release >/dev/null

UP=18080 NGX=18081 HAP=18082 OUTR=18083 ADMIN=18084 NGX2=18085 HAP2=18086
mkdir -p "$WORK/www" "$WORK/ngx-up" "$WORK/ngx-proxy"
head -c 64 /dev/urandom | base64 | head -c 64 >"$WORK/www/small"
head -c 16384 /dev/urandom | base64 -w0 | head -c 16384 >"$WORK/www/large"

cat >"$WORK/ngx-up/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $WORK/ngx-up/pid; error_log $WORK/ngx-up/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$UP; root $WORK/www; location = /v1/traces { return 200; } } }
CONF
cat >"$WORK/ngx-proxy/nginx.conf" <<CONF
worker_processes 1; master_process off; daemon off; pid $WORK/ngx-proxy/pid; error_log $WORK/ngx-proxy/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$UP; keepalive 128; }
  server { listen 127.0.0.1:$NGX;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_buffering on; } }
  server { listen 127.0.0.1:$NGX2 http2;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_buffering on; } } }
CONF
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend f
  bind 127.0.0.1:$HAP
  default_backend b
frontend f2
  bind 127.0.0.1:$HAP2 proto h2
  default_backend b
backend b
  server s1 127.0.0.1:$UP
CONF
cat >"$WORK/outrigger.yaml" <<CONF
listen: 127.0.0.1:$OUTR
admin: { listen: 127.0.0.1:$ADMIN }
workers: 1
access_log: off
registry: registry.yaml
$OUTRIGGER_YAML
CONF
sed "s/^listen: .*/listen: 127.0.0.1:$((OUTR + 10))/; s/^admin: .*/admin: { listen: 127.0.0.1:$((ADMIN + 10)) }/" \
    "$WORK/outrigger.yaml" >"$WORK/outrigger-otlp.yaml"
printf 'tracing:\n  otlp:\n    endpoint: http://127.0.0.1:%s/v1/traces\n' "$UP" >>"$WORK/outrigger-otlp.yaml"
cat >"$WORK/registry.yaml" <<CONF
services:
  bench:
    endpoints: [127.0.0.1:$UP]
CONF

wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/small" -H 'Host: bench' && return 0; sleep 0.1; done; echo "port $1 never answered"; exit 1; }

taskset -c "$LOAD_CPU" nginx -p "$WORK/ngx-up" -c "$WORK/ngx-up/nginx.conf" & PIDS+=($!)
wait_port $UP

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
tick_hz=$(getconf CLK_TCK)

# measure_h2 NAME PORT PID -> appends "NAME h2 rps cpu_us_per_req 0 failed" to $OUT/results.txt
measure_h2() {
    local name=$1 port=$2 pid=$3
    taskset -c "$LOAD_CPU" h2load -c 4 -m 32 -D 2 -H ':authority: bench' "http://127.0.0.1:$port/small" >/dev/null 2>&1
    local before after
    before=$(cpu_ticks "$pid")
    taskset -c "$LOAD_CPU" h2load -c 4 -m 32 -D "$DURATION" -H ':authority: bench' "http://127.0.0.1:$port/small" \
        >"$OUT/$name-h2.txt" 2>&1
    after=$(cpu_ticks "$pid")
    python3 - "$name" "$OUT/$name-h2.txt" "$((after - before))" "$tick_hz" <<'PY' >>"$OUT/results.txt"
import re, sys
name, path, ticks, hz = sys.argv[1:5]
text = open(path).read()
m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", text)
done, failed = int(m.group(3)), int(m.group(5))
rps = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", text).group(1))
print(f"{name} h2 {rps:.0f} {int(ticks) / int(hz) * 1e6 / done if done else 0:.2f} 0 {failed}")
PY
}

# run_proxy NAME PORT PID -> appends lines "NAME SIZE rps cpu_us_per_req p50_ms_c1" to $OUT/results.txt
measure() {
    local name=$1 port=$2 pid=$3
    for size in small large; do
        # Warm up connections and caches.
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d2s -H 'Host: bench' "http://127.0.0.1:$port/$size" >/dev/null
        local before after
        before=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0 )
        local perf=""
        if [ -n "${PROFILE:-}" ] && [ "$name" = outrigger ] && [ "$size" = small ]; then
            perf record -g -o "$OUT/perf.data" -p "$pid" -- sleep "$DURATION" >/dev/null 2>&1 & perf=$!
        fi
        taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Host: bench' "http://127.0.0.1:$port/$size" >"$OUT/$name-$size.txt"
        after=$( [ -n "$pid" ] && cpu_ticks "$pid" || echo 0 )
        if [ -n "$perf" ]; then
            wait "$perf" || true
            { perf report -i "$OUT/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12
              echo
              perf report -i "$OUT/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -6
            } >"$OUT/profile.txt"
        fi
        taskset -c "$LOAD_CPU" wrk -t1 -c1 -d3s --latency -H 'Host: bench' "http://127.0.0.1:$port/$size" >"$OUT/$name-$size-c1.txt"
        python3 - "$name" "$size" "$OUT/$name-$size.txt" "$OUT/$name-$size-c1.txt" "$((after - before))" "$tick_hz" <<'PY' >>"$OUT/results.txt"
import re, sys
name, size, load, c1, ticks, hz = sys.argv[1:7]
text = open(load).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
lat = open(c1).read()
m = re.search(r"50%\s+([\d.]+)(us|ms|s)", lat)
p50 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
cpu_us = int(ticks) / int(hz) * 1e6 / total if total else 0
print(f"{name} {size} {rps:.0f} {cpu_us:.2f} {p50:.4f} {errors.group(1) if errors else 0}")
PY
    done
}

: >"$OUT/results.txt"
: >"$OUT/rss.txt"
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    measure direct $UP ""
    for proxy in $PROXIES; do
        case $proxy in
        nginx)
            taskset -c "$PROXY_CPU" nginx -p "$WORK/ngx-proxy" -c "$WORK/ngx-proxy/nginx.conf" & PID=$!; PORT=$NGX ;;
        haproxy)
            taskset -c "$PROXY_CPU" haproxy -f "$WORK/haproxy.cfg" -db & PID=$!; PORT=$HAP ;;
        outrigger)
            taskset -c "$PROXY_CPU" .build/release/outrigger run --config "$WORK/outrigger.yaml" --log-level warning &
            PID=$!; PORT=$OUTR ;;
        outrigger-otlp)
            taskset -c "$PROXY_CPU" .build/release/outrigger run --config "$WORK/outrigger-otlp.yaml" --log-level warning &
            PID=$!; PORT=$((OUTR + 10)) ;;
        *) echo "bench: unknown proxy $proxy" >&2; exit 1 ;;
        esac
        PIDS+=("$PID")
        wait_port "$PORT"
        measure "$proxy" "$PORT" "$PID"
        if [ "$H2" = 1 ]; then
            case $proxy in nginx) H2PORT=$NGX2 ;; haproxy) H2PORT=$HAP2 ;; *) H2PORT=$PORT ;; esac
            measure_h2 "$proxy" "$H2PORT" "$PID"
        fi
        # Resident memory after the load (all of this proxy's processes: nginx and HAProxy here run as one).
        echo "$proxy $(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")" >>"$OUT/rss.txt"
        kill "$PID"; wait "$PID" 2>/dev/null || true
    done
done

python3 - "$OUT/results.txt" "$OUT/rss.txt" <<'PY' | tee "$OUT/summary.txt"
import statistics, sys
samples = {}
for line in open(sys.argv[1]):
    name, size, rps, cpu, p50, errors = line.split()
    samples.setdefault((name, size), []).append((float(rps), float(cpu), float(p50), int(errors)))
rows = {key: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v),
              statistics.median(s[2] for s in v), sum(s[3] for s in v)) for key, v in samples.items()}
print(f"medians over {len(next(iter(samples.values())))} rounds")
print(f"{'proxy':<10} {'body':<6} {'req/s':>9} {'CPU us/req':>11} {'p50 c1 ms':>10} {'added ms':>9} {'non-2xx':>8}")
for size in ("small", "large"):
    direct = rows[("direct", size)][2]
    for name in ("direct", "nginx", "haproxy", "outrigger", "outrigger-otlp"):
        if (name, size) not in rows:
            continue
        rps, cpu, p50, errors = rows[(name, size)]
        added = p50 - direct if name != "direct" else 0.0
        print(f"{name:<10} {('64B' if size == 'small' else '16KiB'):<6} {rps:>9.0f} {cpu:>11.2f} {p50:>10.3f} {added:>9.3f} {errors:>8}")
h2 = [(name, rows[(name, "h2")]) for name in ("nginx", "haproxy", "outrigger", "outrigger-otlp") if (name, "h2") in rows]
if h2:
    print()
    print("HTTP/2 (h2load, 4 connections x 32 streams, 64 B, h2c to the proxy, HTTP/1.1 to the upstream)")
    print(f"{'proxy':<10} {'req/s':>9} {'CPU us/req':>11} {'failed':>8}")
    for name, (rps, cpu, _, failed) in h2:
        print(f"{name:<10} {rps:>9.0f} {cpu:>11.2f} {failed:>8}")
print()
print("Outrigger relative to each (throughput ratio >1 is better; CPU and added-latency ratios <1 are better):")
for size in ("small", "large"):
    if ("outrigger", size) not in rows:
        continue
    o = rows[("outrigger", size)]
    direct = rows[("direct", size)][2]
    for ref in ("nginx", "haproxy"):
        if (ref, size) not in rows:
            continue
        r = rows[(ref, size)]
        added_o, added_r = o[2] - direct, r[2] - direct
        lat = f"{added_o / added_r:.2f}x" if added_r > 0 else "n/a"
        print(f"  {('64B' if size == 'small' else '16KiB'):<6} vs {ref:<8}: throughput {o[0] / r[0]:.2f}x, "
              f"CPU/request {o[1] / r[1]:.2f}x, added latency {lat}")
if ("outrigger", "h2") in rows:
    o = rows[("outrigger", "h2")]
    for ref in ("nginx", "haproxy"):
        if (ref, "h2") in rows:
            r = rows[(ref, "h2")]
            print(f"  h2     vs {ref:<8}: throughput {o[0] / r[0]:.2f}x, CPU/request {o[1] / r[1]:.2f}x")
rss = {}
for line in open(sys.argv[2]):
    name, kb = line.split()
    rss.setdefault(name, []).append(int(kb))
print()
print("RSS after the load (median over rounds): " + ", ".join(
    f"{name} {statistics.median(values) / 1024:.1f} MB" for name, values in rss.items()))
PY
