#!/usr/bin/env bash
# Service discovery from etcd (SPEC §12) against the binary and a real etcd (Debian's etcd-server) started here on
# loopback ports with a temporary data directory: routing to a service that exists only in etcd; endpoints added,
# removed and expired by lease within a second; a config key applied; breaker state kept across changes; bad keys
# reported and skipped; the file-wins rule; compaction; etcd killed (stale, still serving, discovery_up 0) and
# restarted (synced); a start from the cache with etcd down; `check` on good and bad discovery blocks.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh discovery "$@"
command -v etcd >/dev/null && command -v etcdctl >/dev/null \
    || { echo "discovery: etcd is missing (apt-get install etcd-server etcd-client)" >&2; exit 1; }

ETCD_PID=
A_PID=
B_PID=
discovery_cleanup() {
    for pid in ${ETCD_PID:-} ${A_PID:-} ${B_PID:-}; do kill "$pid" 2>/dev/null || true; done
    cleanup
}
trap discovery_cleanup EXIT
export ETCDCTL_API=3
E=(etcdctl --endpoints http://127.0.0.1:23791 --dial-timeout 2s)
start_etcd() {
    etcd --name chk --data-dir "$WORK/etcd" --listen-client-urls http://127.0.0.1:23791 \
        --advertise-client-urls http://127.0.0.1:23791 --listen-peer-urls http://127.0.0.1:23801 \
        --initial-advertise-peer-urls http://127.0.0.1:23801 --initial-cluster chk=http://127.0.0.1:23801 \
        >>"$WORK/etcd.log" 2>&1 &
    ETCD_PID=$!
    for _ in $(seq 1 100); do "${E[@]}" endpoint health >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "etcd did not start: $(tail -5 "$WORK/etcd.log")"
}
# Upstreams that say who they are.
cat >"$WORK/upstream.py" <<'PY'
import http.server, sys
name = sys.argv[2].encode()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" 18561 A & A_PID=$!
python3 "$WORK/upstream.py" 18562 B & B_PID=$!
start_etcd

printf 'services:\n  filesvc:\n    endpoints: [127.0.0.1:18561]\n' >"$WORK/registry.yaml"
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15161
admin: { listen: 127.0.0.1:9961 }
registry: registry.yaml
discovery:
  etcd:
    endpoints: [http://127.0.0.1:23799, http://127.0.0.1:23791]   # the first is down: tried in turn
    prefix: /outrigger/services/
    cache: discovery-cache.json
routes:
  - path_prefix: /via-route/     # names a service only etcd has: a warning, and it applies once etcd has it
    service: web
YAML
"$BIN" check --config "$WORK/outrigger.yaml" >"$WORK/check-good.out" 2>&1 || fail "check refused a good discovery block"
grep -q "the route applies once etcd has the service" "$WORK/check-good.out" || fail "no warning for the route"
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:9961/ready && break; sleep 0.1; done

P=/outrigger/services
answer() { curl -s -H "Host: $1" http://127.0.0.1:15161/; }
status() { curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" http://127.0.0.1:15161/; }
# within MS CMD...: polls until CMD succeeds, for at most MS milliseconds (SPEC §12: changes apply within 1 s).
within() {
    local deadline=$(($(date +%s%N) / 1000000 + $1))
    shift
    while [ $(($(date +%s%N) / 1000000)) -lt "$deadline" ]; do "$@" && return 0; sleep 0.02; done
    "$@"
}
discovery() { curl -s http://127.0.0.1:9961/services | python3 -c "import json,sys; d=json.load(sys.stdin)['discovery']; print(d$1)"; }
endpoints_of() {
    curl -s http://127.0.0.1:9961/services | python3 -c "
import json, sys
for s in json.load(sys.stdin)['services']:
    if s['name'] == '$1': print(' '.join(e['address'] for e in s['endpoints']))"
}
sees() { local got; got=$(for _ in 1 2 3 4; do answer "$1"; echo; done | sort -u | tr -d '\n'); [ "$got" = "$2" ]; }

# Routing to a service that exists only in etcd, and endpoints added and removed within a second.
[ "$(status web)" = 404 ] || fail "web before etcd knows it"
"${E[@]}" put $P/web/endpoints/a 127.0.0.1:18561 >/dev/null
within 1000 sees web A || fail "an endpoint added in etcd was not routed to within 1 s"
[ "$(curl -s -H 'Host: anything' http://127.0.0.1:15161/via-route/)" = A ] || fail "the route to an etcd service"
"${E[@]}" put $P/web/endpoints/b 127.0.0.1:18562 >/dev/null
within 1000 sees web AB || fail "a second endpoint not used within 1 s: $(answer web)"
# The breaker's state is kept across changes: forced open, it stays open when endpoints change.
curl -s -X POST http://127.0.0.1:9961/breakers/web/open >/dev/null
"${E[@]}" del $P/web/endpoints/a >/dev/null
gone() { [ "$(endpoints_of web)" = "127.0.0.1:18562" ]; }
within 1000 gone || fail "a removed endpoint stayed: $(endpoints_of web)"
[ "$(status web)" = 503 ] && curl -s http://127.0.0.1:9961/breakers/web | grep -q '"forced" : true' \
    || fail "the breaker's state was lost when the endpoints changed"
curl -s -X POST http://127.0.0.1:9961/breakers/web/reset >/dev/null
within 1000 sees web B || fail "after removing A: $(answer web)"
# Leases: an endpoint registered with a 2 s lease and no keep-alive goes when the lease expires.
lease=$("${E[@]}" lease grant 2 | awk '{print $2}')
"${E[@]}" put --lease="$lease" $P/web/endpoints/c 127.0.0.1:18561 >/dev/null
within 1000 sees web AB || fail "a leased endpoint was not used"
within 5000 sees web B || fail "an expired lease's endpoint stayed"
# deploy/etcd/register.sh: an instance registered under a kept-alive lease, removed at once on a clean stop.
PREFIX=$P/ TTL=2 ETCDCTL_ENDPOINTS=http://127.0.0.1:23791 deploy/etcd/register.sh web 127.0.0.1:18561 r1 \
    >"$WORK/register.log" 2>&1 &
REGISTER_PID=$!
within 2000 sees web AB || fail "deploy/etcd/register.sh: not registered: $(cat "$WORK/register.log")"
sleep 3  # longer than the lease's ttl: the keep-alive holds it
sees web AB || fail "deploy/etcd/register.sh: the keep-alive did not hold the lease"
kill -TERM "$REGISTER_PID"
wait "$REGISTER_PID" 2>/dev/null || true
within 1000 sees web B || fail "deploy/etcd/register.sh: not removed on stop"
# The last endpoint gone: 503 no_endpoints, not 404.
"${E[@]}" del $P/web/endpoints/b >/dev/null
within 1000 sh -c '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Host: web" http://127.0.0.1:15161/)" = 503 ]' \
    || fail "a service without endpoints answered $(status web)"
curl -s -H 'Host: web' http://127.0.0.1:15161/ | grep -q no_endpoints || fail "not no_endpoints"
"${E[@]}" put $P/web/endpoints/b 127.0.0.1:18562 >/dev/null
# A config key: the registry's per-service keys, as JSON.
"${E[@]}" put $P/web/config '{"max_concurrent_requests": 7, "retries": {"attempts": 0}}' >/dev/null
within 1000 sh -c 'curl -s http://127.0.0.1:9961/services | grep -q "\"max_concurrent_requests\" : 7"' \
    || fail "the config key was not applied"
# Bad keys are reported and skipped; the rest keeps working.
"${E[@]}" put $P/web/endpoints/bad 'not an endpoint' >/dev/null
"${E[@]}" put $P/broken/config '{"retries": {"attempts": "many"}}' >/dev/null
"${E[@]}" put $P/stray 'x' >/dev/null
within 1000 sh -c "curl -s http://127.0.0.1:9961/services | grep -q '$P/web/endpoints/bad'" || fail "bad key not reported"
[ "$(discovery "['bad_keys'].__len__()")" = 3 ] || fail "bad keys: $(discovery "['bad_keys']")"
within 1000 sees web B || fail "a bad key broke the service"
grep -q "discovery: a key etcd holds is skipped" "$WORK/proxy.log" || fail "bad keys not logged"
# The file wins: filesvc stays on the file's endpoint (A), and the conflict is logged once.
"${E[@]}" put $P/filesvc/endpoints/x 127.0.0.1:18562 >/dev/null
"${E[@]}" put $P/filesvc/endpoints/y 127.0.0.1:18562 >/dev/null
within 1000 sh -c "curl -s http://127.0.0.1:9961/services | grep -q '\"filesvc\"'" || fail "filesvc"
sleep 0.3
sees filesvc A || fail "etcd overrode the registry file: $(answer filesvc)"
[ "$(grep -c "in the registry file and in etcd" "$WORK/proxy.log")" = 1 ] || fail "the conflict was not logged once"
[ "$(discovery "['conflicts']")" = "['filesvc']" ] || fail "conflicts: $(discovery "['conflicts']")"
# Compaction: the history below the current revision goes; the watch goes on and sees later changes.
rev=$("${E[@]}" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
"${E[@]}" compact "$rev" >/dev/null
"${E[@]}" put $P/web/endpoints/a 127.0.0.1:18561 >/dev/null
within 1000 sees web AB || fail "changes after a compaction were missed"
[ "$(discovery "['state']")" = synced ] || fail "state after compaction: $(discovery "['state']")"
[ -s "$WORK/discovery-cache.json" ] || fail "no cache file written"

# etcd killed: stale, still serving, discovery_up 0; restarted: synced again.
kill "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null || true
ETCD_PID=
within 15000 sh -c "curl -s http://127.0.0.1:9961/services | grep -q '\"state\" : \"stale\"'" \
    || fail "etcd down but state $(discovery "['state']")"
sees web AB || fail "not serving the last known endpoints while etcd is down"
curl -s http://127.0.0.1:9961/metrics | grep -q '^outrigger_discovery_up 0' || fail "discovery_up while etcd is down"
[ "$(discovery "['last_error'] is not None")" = True ] || fail "no last_error while etcd is down"
start_etcd
within 8000 sh -c "curl -s http://127.0.0.1:9961/services | grep -q '\"state\" : \"synced\"'" || fail "not synced after restart"
curl -s http://127.0.0.1:9961/metrics | grep -q '^outrigger_discovery_up 1' || fail "discovery_up after restart"
"${E[@]}" del $P/web/endpoints/a >/dev/null
within 1000 sees web B || fail "changes after etcd's restart were missed"

# A start from the cache with etcd down: the cached services are served, with a warning.
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
kill "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null || true
ETCD_PID=
"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy2.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:9961/ready && break; sleep 0.1; done
sees web B || fail "the cached catalog was not served: $(answer web)"
grep -q "serving the cached catalog" "$WORK/proxy2.log" || fail "no warning for the cache"
[ "$(discovery "['from_cache']")" = True ] && [ "$(discovery "['state']")" = never_synced ] \
    || fail "status from the cache: $(discovery "")"
start_etcd
within 8000 sh -c "curl -s http://127.0.0.1:9961/services | grep -q '\"state\" : \"synced\"'" || fail "not synced after a cached start"

# etcd with TLS and authentication: the CA of tls_ca_file, a user and its password (the token is fetched and sent).
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=
kill "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null || true
ETCD_PID=
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 1 -subj "/CN=test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$WORK/etcd.key" -out "$WORK/etcd.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/etcd.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 1 \
    -extfile "$WORK/san.ext" -out "$WORK/etcd.pem" 2>/dev/null
etcd --name tls --data-dir "$WORK/etcd-tls" --listen-client-urls https://127.0.0.1:23792 \
    --advertise-client-urls https://127.0.0.1:23792 --listen-peer-urls http://127.0.0.1:23802 \
    --initial-advertise-peer-urls http://127.0.0.1:23802 --initial-cluster tls=http://127.0.0.1:23802 \
    --cert-file "$WORK/etcd.pem" --key-file "$WORK/etcd.key" >>"$WORK/etcd-tls.log" 2>&1 &
ETCD_PID=$!
T=(etcdctl --endpoints https://127.0.0.1:23792 --cacert "$WORK/ca.pem" --dial-timeout 2s)
for _ in $(seq 1 100); do "${T[@]}" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
"${T[@]}" user add root:rootpw >/dev/null && "${T[@]}" user add mesh:meshpw >/dev/null
"${T[@]}" role add reader >/dev/null && "${T[@]}" role grant-permission reader --prefix=true read $P/ >/dev/null
"${T[@]}" user grant-role mesh reader >/dev/null && "${T[@]}" auth enable >/dev/null
TA=("${T[@]}" --user root:rootpw)
"${TA[@]}" put $P/secure/endpoints/a 127.0.0.1:18562 >/dev/null
cat >"$WORK/tls.yaml" <<YAML
listen: 127.0.0.1:15163
admin: { listen: 127.0.0.1:9963 }
registry: registry.yaml
discovery:
  etcd:
    endpoints: [https://127.0.0.1:23792]
    prefix: $P/
    username: mesh
    password: meshpw
    tls_ca_file: ca.pem
YAML
"$BIN" run --config "$WORK/tls.yaml" 2>"$WORK/proxy-tls.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:9963/ready && break; sleep 0.1; done
secure() { [ "$(curl -s -H 'Host: secure' http://127.0.0.1:15163/)" = "$1" ]; }
within 3000 secure B || fail "etcd over TLS with a user: $(grep discovery "$WORK/proxy-tls.log" | tail -3)"
"${TA[@]}" put $P/secure/endpoints/a 127.0.0.1:18561 >/dev/null
within 1000 secure A || fail "a change over TLS with a user was not seen"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
# A wrong password is reported, not served around.
sed -i 's/password: meshpw/password: wrong/' "$WORK/tls.yaml"
"$BIN" run --config "$WORK/tls.yaml" 2>"$WORK/proxy-tls2.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:9963/ready && break; sleep 0.1; done
within 3000 sh -c "curl -s http://127.0.0.1:9963/services | grep -q 'authentication as'" \
    || fail "a wrong password was not reported: $(curl -s http://127.0.0.1:9963/services | head -30)"
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=

# check: a bad discovery block is reported with positions.
cat >"$WORK/bad.yaml" <<'YAML'
listen: 127.0.0.1:15162
registry: registry.yaml
discovery:
  etcd:
    endpoints: [127.0.0.1:2379]
    prefix: services
    username: only-a-user
YAML
if "$BIN" check --config "$WORK/bad.yaml" >"$WORK/check.out" 2>&1; then fail "check accepted a bad discovery block"; fi
grep -q "bad.yaml:5:17: discovery.etcd.endpoints: '127.0.0.1:2379' is not an etcd client URL" "$WORK/check.out" \
    && grep -q "bad.yaml:6:13: discovery.etcd.prefix must start with '/'" "$WORK/check.out" \
    && grep -q "username and password go together" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"

echo "discovery: ok"
