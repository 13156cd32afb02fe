#!/usr/bin/env bash
# TLS inbound (SPEC §18) against the binary, with real peers: curl, openssl s_client and Python's ssl. Every key
# and certificate is made here with openssl and removed at the end; none is committed.
# Covers: X-Forwarded-Proto https, mTLS with x-forwarded-client-cert as Envoy writes it (a forged one dropped),
# handshake failures counted by reason in /stats and /metrics, min_version, ALPN, `check` naming a mismatched key,
# and rotation (a certificate directory swapped by rename, as cert-manager and certbot do, reloads by itself:
# new connections get the new pair, an open keep-alive connection keeps working; a bad pair refuses the reload,
# on SIGHUP too, and the old one stays).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh tls "$@"
pki() { openssl "$@" 2>/dev/null; }

# A private CA, two server pairs (the second for rotation) and a client certificate with URI and DNS names.
pki req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 1 -subj "/CN=tls-test-ca"
issue() { # name subject san
    pki req -newkey rsa:2048 -nodes -keyout "$WORK/$1.key" -out "$WORK/$1.csr" -subj "$2"
    printf 'subjectAltName=%s\n' "$3" >"$WORK/$1.ext"
    pki x509 -req -in "$WORK/$1.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -out "$WORK/$1.pem" \
        -days 1 -extfile "$WORK/$1.ext"
}
issue server-a "/CN=server-a" "DNS:localhost,IP:127.0.0.1"
issue server-b "/CN=server-b" "DNS:localhost,IP:127.0.0.1"
issue client "/O=Acme/CN=orders-client" "URI:spiffe://acme/orders,DNS:orders.acme"
# The config names live/server.pem and live/server.key; live is a symlink swapped by an atomic rename.
for pair in a b; do
    mkdir "$WORK/pair-$pair"
    cp "$WORK/server-$pair.pem" "$WORK/pair-$pair/server.pem"
    cp "$WORK/server-$pair.key" "$WORK/pair-$pair/server.key"
done
mkdir "$WORK/pair-bad"
cp "$WORK/server-b.pem" "$WORK/pair-bad/server.pem"
cp "$WORK/server-a.key" "$WORK/pair-bad/server.key"  # B's certificate with A's key
swap() { ln -sfn "pair-$1" "$WORK/live.tmp" && mv -T "$WORK/live.tmp" "$WORK/live"; }
swap a

# The upstream answers with the request headers it received, as JSON.
cat >"$WORK/echo.py" <<'PY'
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        body = json.dumps([[k.lower(), v] for k, v in self.headers.items()]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/echo.py" 18471 &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  echo:
    endpoints: [127.0.0.1:18471]
YAML
cat >"$WORK/outrigger.yaml" <<'YAML'
listen: 127.0.0.1:15031
admin: { listen: 127.0.0.1:9931 }
registry: registry.yaml
access_log: off
tls:
  listen: 127.0.0.1:15443
  cert_file: live/server.pem
  key_file: live/server.key
  client_ca_file: ca.pem
  min_version: "1.3"
  alpn: [h2, http/1.1]
YAML

# check: the pair matches; a key of another certificate is named.
"$BIN" check --config "$WORK/outrigger.yaml" >"$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"
grep -q "^ok" "$WORK/check.out" || fail "check: $(cat "$WORK/check.out")"
sed 's|key_file: live/server.key|key_file: client.key|' "$WORK/outrigger.yaml" >"$WORK/mismatch.yaml"
rc=0; "$BIN" check --config "$WORK/mismatch.yaml" >"$WORK/mismatch.out" || rc=$?
[ "$rc" = 1 ] && grep -q "mismatch.yaml:8:13: tls.key_file .*client.key.: the key does not match the certificate" "$WORK/mismatch.out" \
    || fail "mismatched key: exit $rc: $(cat "$WORK/mismatch.out")"
echo "not a certificate" >"$WORK/junk.pem"
sed 's/client_ca_file: ca.pem/client_ca_file: junk.pem/' "$WORK/outrigger.yaml" >"$WORK/junk.yaml"
rc=0; "$BIN" check --config "$WORK/junk.yaml" >"$WORK/junk.out" || rc=$?
[ "$rc" = 1 ] && grep -q "junk.yaml:9:19: tls.client_ca_file .*junk.pem.: no PEM certificate" "$WORK/junk.out" \
    || fail "junk CA: exit $rc: $(cat "$WORK/junk.out")"

"$BIN" run --config "$WORK/outrigger.yaml" 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:9931/ready && curl -s -o /dev/null http://127.0.0.1:18471/ && break
    sleep 0.1
done
MTLS=(--cacert "$WORK/ca.pem" --cert "$WORK/client.pem" --key "$WORK/client.key")

# mTLS: the upstream sees https and Envoy's XFCC for the verified certificate; the client's own XFCC is dropped.
headers=$(curl -sf "${MTLS[@]}" -H 'Host: echo' -H 'x-forwarded-client-cert: Hash=forged' https://localhost:15443/)
hash=$(openssl x509 -in "$WORK/client.pem" -outform DER | sha256sum | cut -d' ' -f1)
want="Hash=$hash;Subject=\"CN=orders-client,O=Acme\";URI=spiffe://acme/orders;DNS=orders.acme"
python3 - "$headers" "$want" <<'PY' || fail "upstream headers: $headers"
import json, sys
headers = json.loads(sys.argv[1])
xfcc = [v for k, v in headers if k == "x-forwarded-client-cert"]
assert xfcc == [sys.argv[2]], xfcc
assert ["x-forwarded-proto", "https"] in headers, headers
PY
# The plain listener still works, says http, and never passes a client's XFCC on.
headers=$(curl -sf -H 'Host: echo' -H 'x-forwarded-client-cert: Hash=forged' http://127.0.0.1:15031/)
python3 -c 'import json,sys; h=json.loads(sys.argv[1]); assert ["x-forwarded-proto","http"] in h and not [v for k,v in h if k=="x-forwarded-client-cert"], h' "$headers" \
    || fail "plain listener headers: $headers"

# ALPN offers h2 then http/1.1, as configured; curl then speaks HTTP/2 through the same mTLS and XFCC path.
alpn=$(pki s_client -connect 127.0.0.1:15443 -alpn h2,http/1.1 -CAfile "$WORK/ca.pem" -cert "$WORK/client.pem" \
    -key "$WORK/client.key" </dev/null | grep -i "ALPN protocol" || true)
[ "$alpn" = "ALPN protocol: h2" ] || fail "ALPN: '$alpn'"
alpn=$(pki s_client -connect 127.0.0.1:15443 -alpn http/1.1 -CAfile "$WORK/ca.pem" -cert "$WORK/client.pem" \
    -key "$WORK/client.key" </dev/null | grep -i "ALPN protocol" || true)
[ "$alpn" = "ALPN protocol: http/1.1" ] || fail "ALPN http/1.1: '$alpn'"
h2=$(curl -sf --http2 -w '\n%{http_version}' "${MTLS[@]}" -H 'Host: echo' https://localhost:15443/)
[ "$(tail -1 <<<"$h2")" = 2 ] || fail "curl --http2 got HTTP/$(tail -1 <<<"$h2")"
python3 -c 'import json,sys; h=json.loads(sys.argv[1]); assert ["x-forwarded-proto","https"] in h and [k for k,v in h if k=="x-forwarded-client-cert"], h' "$(head -1 <<<"$h2")" \
    || fail "HTTP/2 upstream headers: $h2"

# Handshake failures, by reason: no client certificate, TLS 1.2 below min_version, plain HTTP on the TLS port.
curl -s -o /dev/null --cacert "$WORK/ca.pem" -H 'Host: echo' https://localhost:15443/ && fail "no client cert accepted"
curl -s -o /dev/null "${MTLS[@]}" --tls-max 1.2 https://localhost:15443/ && fail "TLS 1.2 accepted under min_version 1.3"
curl -s -o /dev/null http://127.0.0.1:15443/ || true
ok=0
for _ in $(seq 1 50); do
    stats=$(curl -s http://127.0.0.1:9931/stats)
    if python3 - "$stats" 2>/dev/null <<'PY'; then ok=1; break; fi
import json, sys
tls = json.loads(sys.argv[1])["tls"]
failures = tls["handshake_failures"]
assert tls["handshakes"] >= 2, tls
assert failures["no_client_certificate"] >= 1 and failures["unsupported_version"] >= 1 and failures["not_tls"] >= 1, tls
PY
    sleep 0.1
done
[ "$ok" = 1 ] || fail "handshake failures not counted: $stats"
metrics=$(curl -s http://127.0.0.1:9931/metrics)
grep -q '^outrigger_tls_handshake_failures_total{reason="no_client_certificate"} [1-9]' <<<"$metrics" || fail "metrics: no reason label"
grep -q '^outrigger_tls_handshakes_total [1-9]' <<<"$metrics" || fail "metrics: no handshakes"
[ "$(grep -c 'handshake' "$WORK/proxy.log" || true)" = 0 ] || fail "handshake failures logged one by one"

# Rotation: a keep-alive connection opened on pair A keeps working after SIGHUP swaps in pair B; new connections
# get B; a mismatched pair is a refused reload and B stays.
cat >"$WORK/keep.py" <<PY
import http.client, ssl, sys, time, os
context = ssl.create_default_context(cafile="$WORK/ca.pem")
context.load_cert_chain("$WORK/client.pem", "$WORK/client.key")
connection = http.client.HTTPSConnection("localhost", 15443, context=context)
def get():
    connection.request("GET", "/", headers={"Host": "echo"})
    response = connection.getresponse()
    response.read()
    return response.status
assert get() == 200
subject = dict(x[0] for x in connection.sock.getpeercert()["subject"])["commonName"]
print(subject, flush=True)
while not os.path.exists("$WORK/rotated"):
    time.sleep(0.05)
assert get() == 200
print("old connection ok", flush=True)
PY
python3 "$WORK/keep.py" >"$WORK/keep.out" 2>&1 &
KEEP_PID=$!
for _ in $(seq 1 100); do grep -q server-a "$WORK/keep.out" && break; sleep 0.05; done
grep -q server-a "$WORK/keep.out" || fail "keep-alive client: $(cat "$WORK/keep.out")"
peer() { pki s_client -connect 127.0.0.1:15443 -CAfile "$WORK/ca.pem" -cert "$WORK/client.pem" -key "$WORK/client.key" </dev/null | grep -o 'CN *= *server-[ab]' | head -1 | tr -d ' '; }
reloads() { curl -s http://127.0.0.1:9931/stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["reloads"], s["failed_reloads"])'; }
swap b  # no signal: the watcher sees the files change
for _ in $(seq 1 100); do [ "$(peer)" = "CN=server-b" ] && break; sleep 0.05; done
[ "$(peer)" = "CN=server-b" ] || fail "new connection after the swap got $(peer)"
[ "$(reloads)" = "1 0" ] || fail "reloads after the swap: $(reloads)"
touch "$WORK/rotated"
wait "$KEEP_PID" || fail "old keep-alive connection: $(cat "$WORK/keep.out")"
KEEP_PID=
grep -q "old connection ok" "$WORK/keep.out" || fail "old connection: $(cat "$WORK/keep.out")"
swap bad
kill -HUP "$PROXY_PID"  # the watcher may also see it: each look refuses
for _ in $(seq 1 100); do [ "$(reloads | cut -d' ' -f2)" -ge 1 ] && break; sleep 0.05; done
[ "$(reloads | cut -d' ' -f1)" = 1 ] && [ "$(reloads | cut -d' ' -f2)" -ge 1 ] || fail "mismatched pair not refused: $(reloads)"
[ "$(peer)" = "CN=server-b" ] || fail "after a refused reload got $(peer)"
grep -q "key does not match.*reload refused" "$WORK/proxy.log" || fail "refused reload not reported"
# /config shows the listener's block (paths only).
curl -s http://127.0.0.1:9931/config | python3 -c 'import json,sys; t=json.load(sys.stdin)["tls"]; assert t["listen"]=="127.0.0.1:15443" and t["min_version"]=="1.3" and t["alpn"]==["h2","http/1.1"] and t["client_ca_file"].endswith("ca.pem"), t' \
    || fail "/config tls block"
curl -sf -o /dev/null "${MTLS[@]}" -H 'Host: echo' https://localhost:15443/ || fail "serving after refused reload"

kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
PROXY_PID=
echo "tls: ok"
