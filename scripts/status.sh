#!/usr/bin/env bash
# `outrigger status` (SPEC §14) against the binary: the table with every breaker closed (exit 0) and with one
# open (exit 2, trouble first), rates that follow traffic, the admin address and token taken from the config,
# --admin/--token overriding it, OUTRIGGER_ADMIN_TOKEN, a refused or missing token and an unreachable port as one
# line on standard error (exit 1, no stack trace), no colour codes off a terminal, a unix-socket admin port, and
# --watch redrawing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh status "$@"

python3 -m http.server 18641 --bind 127.0.0.1 >/dev/null 2>&1 &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  orders:
    endpoints: [127.0.0.1:18641]
  payments:
    endpoints: [127.0.0.1:18642, 127.0.0.1:18643]
    breaker: { consecutive_failures: 3, open_for: 60s }
    retries: { attempts: 0 }
YAML
cat >"$WORK/outrigger.yaml" <<'YAML'
listen: 127.0.0.1:15141
admin: { listen: 127.0.0.1:9941, token: sesame }
registry: registry.yaml
YAML
start_daemon http://127.0.0.1:9941/ready http://127.0.0.1:18641/
status() { "$BIN" status "$@" >"$WORK/out" 2>"$WORK/err"; }
row() { grep -E "^$1 " "$WORK/out" || true; }

# Every breaker closed: exit 0, one row per service, the header, no colour codes (stdout is a file).
for _ in $(seq 1 20); do curl -s -o /dev/null -H 'Host: orders' http://127.0.0.1:15141/; done
status --config "$WORK/outrigger.yaml" || fail "status exited $? with breakers closed: $(cat "$WORK/err")"
grep -q '^SERVICE  *BREAKER  *REQ/S  *ERRORS  *P99  *IN-FLIGHT  *EJECTED$' "$WORK/out" || fail "no header: $(cat "$WORK/out")"
[ -n "$(row orders)" ] && [ -n "$(row payments)" ] || fail "rows missing: $(cat "$WORK/out")"
row orders | grep -q ' closed ' || fail "orders not closed: $(row orders)"
row payments | grep -q '0/2$' || fail "payments endpoints: $(row payments)"
! grep -q $'\e\[' "$WORK/out" || fail "colour codes written to a file"

# Rates follow traffic: orders' requests per second rise above 0 within the recent window (polled, deadline 15 s).
deadline=$((SECONDS + 15))
while :; do
    for _ in $(seq 1 20); do curl -s -o /dev/null -H 'Host: orders' http://127.0.0.1:15141/; done
    status --config "$WORK/outrigger.yaml" || true
    rps=$(row orders | awk '{print $3}')
    [ "$rps" != "-" ] && awk -v r="$rps" 'BEGIN { exit !(r > 0) }' && break
    [ $SECONDS -lt $deadline ] || fail "orders' rate never rose: $(cat "$WORK/out")"
    sleep 0.5
done
row orders | grep -q ' 0.0% ' || fail "orders has errors: $(row orders)"

# An open breaker: payments fails 3 times (nothing listens), then status exits 2 with payments first and named.
for _ in 1 2 3 4; do curl -s -o /dev/null -H 'Host: payments' http://127.0.0.1:15141/; done
set +e
status --config "$WORK/outrigger.yaml"
code=$?
set -e
[ "$code" = 2 ] || fail "status exited $code with an open breaker: $(cat "$WORK/out" "$WORK/err")"
sed -n 3p "$WORK/out" | grep -q '^payments  *open ' || fail "payments not first and open: $(cat "$WORK/out")"
grep -q '^breaker open: payments' "$WORK/out" || fail "no open-breaker line: $(cat "$WORK/out")"
# Closing it through the API brings exit 0 back.
curl -s -o /dev/null -X POST -H 'Authorization: Bearer sesame' http://127.0.0.1:9941/breakers/payments/reset
status --config "$WORK/outrigger.yaml" || fail "status exited $? after the reset: $(cat "$WORK/out")"

# Token: --token overrides the config's; a wrong one, none at all and an unreachable port are one line, exit 1.
status --admin http://127.0.0.1:9941 --token sesame --config /nonexistent.yaml || fail "explicit admin and token: $(cat "$WORK/err")"
OUTRIGGER_ADMIN_TOKEN=sesame "$BIN" status --admin 127.0.0.1:9941 --config /nonexistent.yaml >/dev/null \
    || fail "OUTRIGGER_ADMIN_TOKEN was not used"
for args in "--config $WORK/outrigger.yaml --token wrong" "--admin 127.0.0.1:9941 --config /nonexistent.yaml" \
    "--admin 127.0.0.1:9 --config /nonexistent.yaml" "--config /nonexistent.yaml"; do
    set +e
    # shellcheck disable=SC2086
    status $args
    code=$?
    set -e
    [ "$code" = 1 ] || fail "status $args exited $code"
    [ "$(wc -l <"$WORK/err")" = 1 ] && [ ! -s "$WORK/out" ] || fail "status $args: not one line: $(cat "$WORK/err")"
    grep -q '^outrigger status: ' "$WORK/err" || fail "status $args: $(cat "$WORK/err")"
done
status --config "$WORK/outrigger.yaml" --token wrong || true
grep -q 'refused the token (401)' "$WORK/err" || fail "wrong token: $(cat "$WORK/err")"
status --admin 127.0.0.1:9941 --config /nonexistent.yaml || true
grep -q 'needs a token' "$WORK/err" || fail "missing token: $(cat "$WORK/err")"
status --admin 127.0.0.1:9 --config /nonexistent.yaml || true
grep -q 'cannot reach the admin API at http://127.0.0.1:9' "$WORK/err" || fail "unreachable: $(cat "$WORK/err")"
grep -q 'cannot read the admin address from /nonexistent.yaml' "$WORK/err" || true

# --watch redraws every second (a frame per read; stopped after about 2.5 s).
timeout 2.5 "$BIN" status --watch --config "$WORK/outrigger.yaml" >"$WORK/watch" 2>&1 || true
frames=$(grep -c '^SERVICE ' "$WORK/watch")
[ "$frames" -ge 2 ] || fail "--watch drew $frames frames in 2.5 s"

# A unix-socket admin port, from the config alone (no token on a local socket).
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15141
admin: { listen: "unix:$WORK/admin.sock" }
registry: registry.yaml
YAML
"$BIN" run --config "$WORK/outrigger.yaml" >"$WORK/access.out" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null --unix-socket "$WORK/admin.sock" http://x/ready && break; sleep 0.1; done
status --config "$WORK/outrigger.yaml" || fail "status over a unix socket exited $?: $(cat "$WORK/err")"
grep -q "^outrigger at unix:$WORK/admin.sock: 2 services" "$WORK/out" || fail "unix socket: $(cat "$WORK/out")"
echo "status: ok (closed 0, open 2 first, rates, tokens, errors as one line, --watch, unix socket)"
