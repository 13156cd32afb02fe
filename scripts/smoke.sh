#!/usr/bin/env bash
# End-to-end smoke test of the binary, as a new user would run it: check, version, run on the shipped
# config, curl through it to a real upstream (python's http.server), and a bad config that exits 64.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build >/dev/null
BIN=.build/debug/outrigger
WORK=$(mktemp -d)
cleanup() {
    [ -n "${TLS_PID:-}" ] && kill "$TLS_PID" 2>/dev/null || true
    [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null || true
    [ -n "${UP_PID:-}" ] && kill "$UP_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" version | grep -q "libcurl 7\|libcurl 8"
"$BIN" check --config config/outrigger.yaml | grep -q '^ok'
"$BIN" --help | grep -q '^usage: outrigger'
# A wrong argument is named, with exit 64 (EX_USAGE).
rc=0; "$BIN" run --confg x 2>"$WORK/args.err" || rc=$?
[ "$rc" = 64 ] && grep -q "unknown option '--confg' for 'run'" "$WORK/args.err" || { echo "bad argument: exit $rc"; exit 1; }

# A bad config: every error printed, exit 1 for check, 64 for run.
printf 'listen: nowhere\nbogus: 1\n' >"$WORK/bad.yaml"
printf 'services: {}\n' >"$WORK/registry.yaml"
set +e
"$BIN" check --config "$WORK/bad.yaml" >"$WORK/check.out"; rc=$?
"$BIN" run --config "$WORK/bad.yaml" 2>"$WORK/run.err"; rc_run=$?
set -e
[ "$rc" = 1 ] || { echo "check exit $rc, want 1"; exit 1; }
[ "$rc_run" = 64 ] || { echo "run exit $rc_run, want 64"; exit 1; }
grep -q "bad.yaml:1:9: listen" "$WORK/check.out"
grep -q "bad.yaml:2:1: unknown key 'bogus'" "$WORK/check.out"

# The shipped config, with the upstream the registry names (orders on 127.0.0.1:8081).
mkdir -p "$WORK/site" && echo "hello from orders" >"$WORK/site/index.html"
python3 -m http.server 8081 --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
UP_PID=$!
"$BIN" run --config config/outrigger.yaml 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    if curl -s -o /dev/null http://127.0.0.1:15001/ 2>/dev/null && curl -s -o /dev/null http://127.0.0.1:8081/; then break; fi
    sleep 0.1
done
body=$(curl -s -H 'Host: orders' http://127.0.0.1:15001/index.html)
[ "$body" = "hello from orders" ] || { echo "got: $body"; cat "$WORK/proxy.log"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: unknown' http://127.0.0.1:15001/)
[ "$code" = 404 ] || { echo "unknown host gave $code"; exit 1; }
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"

# https:// endpoints: a private CA via tls_ca_file is trusted; without it the handshake fails (502).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 1 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
cat >"$WORK/tls.py" <<PY
import http.server, ssl
server = http.server.HTTPServer(("127.0.0.1", 18443), http.server.SimpleHTTPRequestHandler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("$WORK/cert.pem", "$WORK/key.pem")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
(cd "$WORK/site" && exec python3 "$WORK/tls.py" >/dev/null 2>&1) &
TLS_PID=$!
cat >"$WORK/tls.yaml" <<YAML
listen: 127.0.0.1:15011
admin: { listen: 127.0.0.1:15012 }
registry: tls-registry.yaml
YAML
cat >"$WORK/tls-registry.yaml" <<YAML
services:
  secure:
    endpoints: [https://localhost:18443]
    tls_ca_file: cert.pem
  untrusted:
    endpoints: [https://localhost:18443]
YAML
# The old spelling is accepted, and check says which key replaces it.
"$BIN" check --config "$WORK/tls.yaml" >"$WORK/tls-check.out"
grep -q "tls-registry.yaml:4:18: warning: services.secure.tls_ca_file is the old spelling of tls.ca_file" "$WORK/tls-check.out" \
    && grep -q '^ok' "$WORK/tls-check.out" || { echo "check of the old spelling: $(cat "$WORK/tls-check.out")"; exit 1; }
"$BIN" run --config "$WORK/tls.yaml" 2>"$WORK/tls-proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    if curl -s -o /dev/null http://127.0.0.1:15011/ && curl -sk -o /dev/null https://127.0.0.1:18443/; then break; fi
    sleep 0.1
done
body=$(curl -s -H 'Host: secure' http://127.0.0.1:15011/index.html)
[ "$body" = "hello from orders" ] || { echo "https endpoint gave: $body"; cat "$WORK/tls-proxy.log"; kill $TLS_PID; exit 1; }
err=$(curl -s -o /dev/null -w '%{http_code} %header{x-outrigger-error}' -H 'Host: untrusted' http://127.0.0.1:15011/)
kill $TLS_PID
[ "$err" = "502 upstream_tls_error" ] || { echo "untrusted https endpoint gave: $err"; exit 1; }
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"

# Upstream TLS (SPEC §18): a private CA, a client certificate (the upstream requires one) and server_name
# (SNI and the verified name, while the connection goes to 127.0.0.1). Keys are made here, never committed.
pki() { openssl "$@" 2>/dev/null; }
pki req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 1 -subj "/CN=smoke-ca"
for name in orders.internal outrigger-client; do
    pki req -newkey rsa:2048 -nodes -keyout "$WORK/$name.key" -out "$WORK/$name.csr" -subj "/CN=$name"
    printf 'subjectAltName=DNS:%s\n' "$name" >"$WORK/$name.ext"
    pki x509 -req -in "$WORK/$name.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
        -out "$WORK/$name.pem" -days 1 -extfile "$WORK/$name.ext"
done
cat >"$WORK/mtls.py" <<PY
import http.server, ssl
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        subject = dict(x[0] for x in self.connection.getpeercert()["subject"])
        body = ("client " + subject["commonName"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", 18444), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("$WORK/orders.internal.pem", "$WORK/orders.internal.key")
context.load_verify_locations("$WORK/ca.pem")
context.verify_mode = ssl.CERT_REQUIRED
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
python3 "$WORK/mtls.py" >/dev/null 2>&1 &
MTLS_PID=$!
cat >"$WORK/mtls-registry.yaml" <<YAML
services:
  mtls:
    endpoints: [https://127.0.0.1:18444]
    tls: { ca_file: ca.pem, cert_file: outrigger-client.pem, key_file: outrigger-client.key, server_name: orders.internal }
  nocert:
    endpoints: [https://127.0.0.1:18444]
    retries: { attempts: 0 }
    tls: { ca_file: ca.pem, server_name: orders.internal }
  wrongname:
    endpoints: [https://127.0.0.1:18444]
    retries: { attempts: 0 }
    tls: { ca_file: ca.pem, cert_file: outrigger-client.pem, key_file: outrigger-client.key, server_name: other.internal }
YAML
sed 's/tls-registry.yaml/mtls-registry.yaml/' "$WORK/tls.yaml" >"$WORK/mtls.yaml"
"$BIN" check --config "$WORK/mtls.yaml" | grep -q '^ok' || { "$BIN" check --config "$WORK/mtls.yaml"; exit 1; }
"$BIN" run --config "$WORK/mtls.yaml" 2>"$WORK/mtls-proxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do
    if curl -s -o /dev/null http://127.0.0.1:15011/ && [ -n "$(pki s_client -connect 127.0.0.1:18444 </dev/null | head -1)" ]; then break; fi
    sleep 0.1
done
body=$(curl -s -H 'Host: mtls' http://127.0.0.1:15011/x)
[ "$body" = "client outrigger-client" ] || { echo "mTLS upstream gave: $body"; cat "$WORK/mtls-proxy.log"; kill $MTLS_PID; exit 1; }
err=$(curl -s -o /dev/null -w '%{http_code} %header{x-outrigger-error}' -H 'Host: wrongname' http://127.0.0.1:15011/)
# An upgrade to an https:// endpoint: NIO's TLS on the connection curl opened, with the same CA, client
# certificate and server_name (the upstream refuses the upgrade: its answer comes back as it was).
up=$(curl -s -H 'Host: mtls' -H 'Connection: Upgrade' -H 'Upgrade: websocket' http://127.0.0.1:15011/x)
[ "$up" = "client outrigger-client" ] || { echo "upgrade over mTLS gave: $up"; cat "$WORK/mtls-proxy.log"; kill $MTLS_PID; exit 1; }
uperr=$(curl -s -o /dev/null -w '%{http_code} %header{x-outrigger-error}' -H 'Host: wrongname' -H 'Connection: Upgrade' -H 'Upgrade: websocket' http://127.0.0.1:15011/)
[ "$uperr" = "502 upstream_tls_error" ] || { echo "upgrade with a wrong server_name gave: $uperr"; kill $MTLS_PID; exit 1; }
# Without a client certificate the upstream refuses the session (under TLS 1.3, as an alert after the handshake).
nocert=$(curl -s -o /dev/null -w '%{http_code} %header{x-outrigger-error}' -H 'Host: nocert' http://127.0.0.1:15011/)
kill $MTLS_PID
[ "$nocert" = "502 upstream_tls_error" ] || { echo "refused client certificate gave: $nocert"; cat "$WORK/mtls-proxy.log"; exit 1; }
[ "$err" = "502 upstream_tls_error" ] || { echo "server_name mismatch gave: $err"; exit 1; }
kill -TERM "$PROXY_PID"
wait "$PROXY_PID"
# A missing certificate file is a check error at its key.
sed 's/cert_file: outrigger-client.pem/cert_file: missing.pem/' "$WORK/mtls-registry.yaml" >"$WORK/bad-mtls-registry.yaml"
sed 's/tls-registry.yaml/bad-mtls-registry.yaml/' "$WORK/tls.yaml" >"$WORK/bad-mtls.yaml"
rc=0; "$BIN" check --config "$WORK/bad-mtls.yaml" >"$WORK/bad-mtls.out" || rc=$?
[ "$rc" = 1 ] && grep -q "bad-mtls-registry.yaml:4:.*cannot read services.mtls.tls.cert_file .*missing.pem.: No such file" "$WORK/bad-mtls.out" \
    || { echo "missing cert_file: exit $rc: $(cat "$WORK/bad-mtls.out")"; exit 1; }
echo "smoke: ok"
