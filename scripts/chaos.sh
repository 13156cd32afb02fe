#!/usr/bin/env bash
# The chaos suite (issue 14): Outrigger in front of several upstreams, mixed traffic from Locust (bench/locustfile.py,
# step load) for CHAOS_SECONDS (default 60), while faults come from both sides: Outrigger's own fault API (aborts,
# delays, resets with a ttl) and the outside world (an upstream killed and restarted, one that stalls, one that
# answers garbage, and one in a network namespace this script makes, partitioned now and then, with netem latency and
# loss where the kernel has sch_netem). Then it checks what a user relies on: every answer was the upstream's own
# (checksummed) or an Outrigger error with its code, nothing was left hanging, the breaker opened and closed again,
# no descriptor or memory growth, and the daemon never died. It prints a summary table.
#
# usage: CHAOS_SECONDS=60 scripts/chaos.sh [BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh chaos "$@"
CHAOS_SECONDS=${CHAOS_SECONDS:-60}
[ "$CHAOS_SECONDS" -ge 20 ] || { echo "chaos: CHAOS_SECONDS must be at least 20" >&2; exit 1; }
python3 -c 'import locust' 2>/dev/null || { echo "chaos: locust is missing (pip install locust)" >&2; exit 1; }

EXTRA_PIDS=()
NETNS="" VETH_HOST="" NETEM="unavailable (no network namespace)"
chaos_cleanup() {
    for pid in "${EXTRA_PIDS[@]}" ${FLAKY_PID:-} ${CHAOS_PID:-}; do kill "$pid" 2>/dev/null || true; done
    [ -n "$NETNS" ] && { ip netns pids "$NETNS" 2>/dev/null | xargs -r kill 2>/dev/null || true; }
    [ -n "$VETH_HOST" ] && ip link del "$VETH_HOST" 2>/dev/null || true
    [ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null || true
    cleanup
}
trap chaos_cleanup EXIT

PORT=15141 ADMIN_PORT=9941
STABLE=18541 FLAKY=18542 STALLING=18543 GARBAGE=18544 REMOTE=18545
upstream() { exec python3 scripts/chaos/upstream.py "$@" 2>>"$WORK/upstreams.err" </dev/null >/dev/null; }
upstream 127.0.0.1 $STABLE stable & EXTRA_PIDS+=($!)
upstream 127.0.0.1 $STALLING stalling & EXTRA_PIDS+=($!)
upstream 127.0.0.1 $GARBAGE garbage & EXTRA_PIDS+=($!)
upstream 127.0.0.1 $FLAKY stable &
FLAKY_PID=$!
disown "$FLAKY_PID"  # killed by the schedule below: no job notice

# An upstream behind a link this script owns: a network namespace and a veth pair (10.213.0.0/30).
services="stable:3,flaky:2,stalling:1,garbage:1"
remote_service=""
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "orc-chaos-$$" 2>/dev/null; then
    NETNS="orc-chaos-$$" VETH_HOST="orc$$a" VETH_NS="orc$$b"
    ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
    ip link set "$VETH_NS" netns "$NETNS"
    ip addr add 10.213.0.1/30 dev "$VETH_HOST" && ip link set "$VETH_HOST" up
    ip netns exec "$NETNS" ip addr add 10.213.0.2/30 dev "$VETH_NS"
    ip netns exec "$NETNS" ip link set "$VETH_NS" up
    ip netns exec "$NETNS" ip link set lo up
    if tc qdisc add dev "$VETH_HOST" root netem delay 20ms 5ms loss 1% 2>/dev/null; then
        NETEM="20 ms ± 5 ms latency and 1 % loss towards the remote upstream"
    else
        NETEM="unavailable (the kernel has no sch_netem); the remote upstream is partitioned only"
    fi
    ip netns exec "$NETNS" python3 scripts/chaos/upstream.py 10.213.0.2 $REMOTE stable 2>>"$WORK/upstreams.err" &
    EXTRA_PIDS+=($!)
    services="$services,remote:1"
    remote_service="  remote:
    endpoints: [10.213.0.2:$REMOTE]"
fi

cat >"$WORK/registry.yaml" <<YAML
services:
  stable:
    endpoints: [127.0.0.1:$STABLE]
  flaky:
    endpoints: [127.0.0.1:$FLAKY]
  stalling:
    endpoints: [127.0.0.1:$STALLING]
  garbage:
    endpoints: [127.0.0.1:$GARBAGE]
$remote_service
YAML
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:$PORT
admin: { listen: 127.0.0.1:$ADMIN_PORT }
registry: registry.yaml
access_log: $WORK/access.log
defaults:
  connect_timeout: 300ms
  request_timeout: 5s
  retries: { attempts: 2, per_try_timeout: 1s, retry_on: [connect_failure, reset, timeout, 502, 503, 504] }
  breaker: { consecutive_failures: 5, failure_rate: 0.5, minimum_requests: 20, window: 5s, open_for: 2s }
YAML
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$ADMIN_PORT/ready" && curl -s -o /dev/null "http://127.0.0.1:$STABLE/" \
        && curl -s -o /dev/null "http://127.0.0.1:$FLAKY/" && break
    sleep 0.1
done
for service in stable flaky stalling garbage; do curl -s -o /dev/null -H "Host: $service" "http://127.0.0.1:$PORT/data/64"; done
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }
FDS_BEFORE=$(fds)

# The outside world misbehaves on a schedule, for the whole run.
admin() { curl -s -o /dev/null -X "$1" -d "${3:-}" "http://127.0.0.1:$ADMIN_PORT/faults/$2"; }
breaker() { curl -s "http://127.0.0.1:$ADMIN_PORT/breakers/flaky" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
step=$((CHAOS_SECONDS / 10))
[ "$step" -ge 2 ] || step=2
(
    deadline=$(($(date +%s) + CHAOS_SECONDS - step))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        echo "kill flaky" >>"$WORK/actions.log"
        kill -9 "$(cat "$WORK/flaky.pid" 2>/dev/null || echo $FLAKY_PID)" 2>/dev/null || true
        admin PUT stable '{"abort": {"percent": 20, "status": 503}, "delay": {"percent": 20, "duration": "150ms"}, "ttl": "'$step's"}'
        admin PUT garbage '{"reset": {"percent": 10}, "ttl": "'$step's"}'
        [ -n "$NETNS" ] && ip netns exec "$NETNS" ip link set "$VETH_NS" down && echo "partition remote" >>"$WORK/actions.log"
        sleep "$step"
        breaker >>"$WORK/flaky-breaker.log" || true
        python3 scripts/chaos/upstream.py 127.0.0.1 $FLAKY stable 2>>"$WORK/upstreams.err" &
        echo $! >"$WORK/flaky.pid"
        echo "restart flaky" >>"$WORK/actions.log"
        [ -n "$NETNS" ] && ip netns exec "$NETNS" ip link set "$VETH_NS" up && echo "heal remote" >>"$WORK/actions.log"
        sleep "$step"
    done
) 2>>"$WORK/actions.err" &
CHAOS_PID=$!

# Traffic: four steps of load over the run, mixed services and methods.
(sleep $((CHAOS_SECONDS / 3)); rss >"$WORK/rss-mid") &
OUTRIGGER_SERVICES="$services" OUTRIGGER_STEP="5,$((CHAOS_SECONDS / 4)),4" CHAOS_VIOLATIONS="$WORK/violations.jsonl" \
    OUTRIGGER_TIMEOUT=15 locust -f bench/locustfile.py --headless --host "http://127.0.0.1:$PORT" --csv "$WORK/locust" \
    --only-summary --loglevel WARNING >"$WORK/locust.log" 2>&1 || fail "locust: $(tail -5 "$WORK/locust.log")"
wait "$CHAOS_PID" 2>/dev/null || true
CHAOS_PID=
[ -f "$WORK/flaky.pid" ] && FLAKY_PID=$(cat "$WORK/flaky.pid")

# The invariants.
kill -0 "$PROXY_PID" 2>/dev/null || fail "the daemon died"
touch "$WORK/violations.jsonl" "$WORK/violations.jsonl.truncated"
# Nothing left hanging: no request in flight once the load is gone.
settled=
for _ in $(seq 1 100); do
    if curl -s "http://127.0.0.1:$ADMIN_PORT/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if all(v["in_flight"] == 0 for v in s["services"].values()) else 1)'; then settled=1; break; fi
    sleep 0.1
done
[ -n "$settled" ] || fail "requests still in flight after the load: $(curl -s "http://127.0.0.1:$ADMIN_PORT/stats")"
# The breaker of the killed upstream opened, and closes again once it is back.
curl -s "http://127.0.0.1:$ADMIN_PORT/stats" >"$WORK/stats.json"
trips=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["services"]["flaky"]["breaker_transitions"])' "$WORK/stats.json")
[ "$trips" -ge 2 ] || fail "the breaker of the killed upstream changed state $trips times"
closed=
for _ in $(seq 1 100); do
    curl -s -o /dev/null -H 'Host: flaky' "http://127.0.0.1:$PORT/data/64"
    [ "$(breaker)" = closed ] && { closed=1; break; }
    sleep 0.1
done
[ -n "$closed" ] || fail "the breaker of the restarted upstream stayed $(breaker)"
# No descriptor leak, no memory growth in the second part of the run.
fds_after=
for _ in $(seq 1 50); do
    fds_after=$(fds)
    [ "$fds_after" -le $((FDS_BEFORE + 16)) ] && break
    sleep 0.2
done
[ "$fds_after" -le $((FDS_BEFORE + 16)) ] || fail "descriptors: $FDS_BEFORE before, $fds_after after"
RSS_MID=$(cat "$WORK/rss-mid" 2>/dev/null || rss)
RSS_END=$(rss)
[ $((RSS_END - RSS_MID)) -le 16384 ] || fail "memory grew from $((RSS_MID / 1024)) MiB to $((RSS_END / 1024)) MiB"

python3 - "$WORK" "$CHAOS_SECONDS" "$NETEM" "$FDS_BEFORE" "$fds_after" "$RSS_MID" "$RSS_END" "$trips" <<'PY'
import csv, collections, json, sys
work, seconds, netem, fds_before, fds_after, rss_mid, rss_end, trips = sys.argv[1:]
rows = {}
for row in csv.DictReader(open(f"{work}/locust_stats.csv")):
    if row["Name"] == "Aggregated":
        continue
    service = row["Name"].split(" ")[0]
    entry = rows.setdefault(service, collections.Counter())
    entry["requests"] += int(row["Request Count"])
    entry["failed"] += int(row["Failure Count"])
errors = collections.defaultdict(collections.Counter)
for row in csv.DictReader(open(f"{work}/locust_failures.csv")):
    errors[row["Name"].split(" ")[0]][row["Error"].replace("CatchResponseError(", "").rstrip(")").strip("'")] += int(row["Occurrences"])
violations = [json.loads(l) for l in open(f"{work}/violations.jsonl")]
by_service = collections.Counter(v["service"] for v in violations)
actions = collections.Counter(l.strip() for l in open(f"{work}/actions.log")) if open(f"{work}/actions.log") else {}
print(f"\nchaos: {seconds} s of mixed traffic (Locust, step load); netem: {netem}")
print("actions: " + ", ".join(f"{name} x{count}" for name, count in sorted(actions.items())))
print(f"{'service':10} {'requests':>9} {'upstream':>9} {'errors':>7}  {'violations':>10}  errors by code")
for service in sorted(rows):
    entry = rows[service]
    codes = ", ".join(f"{code} {count}" for code, count in errors[service].most_common())
    print(f"{service:10} {entry['requests']:>9} {entry['requests'] - entry['failed']:>9} {entry['failed']:>7}  {by_service[service]:>10}  {codes}")
total = sum(e["requests"] for e in rows.values())
print(f"total requests {total}; violations {len(violations)}; breaker transitions of flaky {trips}; "
      f"descriptors {fds_before} -> {fds_after}; RSS {int(rss_mid) // 1024} -> {int(rss_end) // 1024} MiB")
for v in violations[:10]:
    print("violation:", v)
sys.exit(1 if violations or total == 0 else 0)
PY
[ $? = 0 ] || fail "invariants broken"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID" || fail "the daemon did not stop cleanly"
PROXY_PID=
echo "chaos: ok"
