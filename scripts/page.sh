#!/usr/bin/env bash
# The admin page (SPEC §14) against the binary: fetched as HTML without a token and self-contained (nothing
# loaded from elsewhere, a Content-Security-Policy that forbids it), the JSON index for API clients (token
# required), then rendered and driven in headless Chromium by scripts/page-check.py. SCREENSHOT=PATH keeps the
# screenshot (scripts/screenshot.sh uses it for the README's image).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh page "$@"
command -v chromium >/dev/null || fail "chromium is not installed (apt-get install chromium)"

python3 -m http.server 18651 --bind 127.0.0.1 >/dev/null 2>&1 &
UP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  orders:
    endpoints: [127.0.0.1:18651]
  payments:
    endpoints: [127.0.0.1:18652, 127.0.0.1:18653]
    breaker: { consecutive_failures: 3, open_for: 5m }
    retries: { attempts: 0 }
YAML
cat >"$WORK/outrigger.yaml" <<'YAML'
listen: 127.0.0.1:15151
admin: { listen: 127.0.0.1:9951, token: sesame }
registry: registry.yaml
# etcd that never answers: the page says discovery is not synced, and why.
discovery:
  etcd: { endpoints: ["http://127.0.0.1:18659"], prefix: /outrigger/services }
YAML
start_daemon http://127.0.0.1:9951/ready http://127.0.0.1:18651/

# The page: HTML without a token, one document with nothing to fetch from elsewhere.
code=$(curl -s -o "$WORK/page.html" -D "$WORK/head" -w '%{http_code}' -H 'Accept: text/html,*/*' http://127.0.0.1:9951/)
[ "$code" = 200 ] || fail "GET / for a browser: $code"
grep -qi '^content-type: text/html' "$WORK/head" || fail "not HTML: $(cat "$WORK/head")"
grep -qi "^content-security-policy: default-src 'none'" "$WORK/head" || fail "no CSP: $(cat "$WORK/head")"
python3 - "$WORK/page.html" <<'PY' || fail "the page is not self-contained"
import re, sys
html = open(sys.argv[1]).read()
bad = re.findall(r'<(?:script|img|iframe)[^>]*\bsrc=|<link\b|@import|url\(|https?://(?!www\.w3\.org/2000/svg)', html)
if bad:
    sys.exit("external references: %r" % bad)
PY
# An API client gets the JSON index, which needs the token like every endpoint but the probes and the page.
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9951/)" = 401 ] || fail "the JSON index answered without a token"
curl -sf -H 'Authorization: Bearer sesame' http://127.0.0.1:9951/ | grep -q '"/openapi.json"' || fail "JSON index"

# payments' breaker opens (nothing listens on its endpoints) before the browser looks.
for _ in 1 2 3 4; do curl -s -o /dev/null -H 'Host: payments' http://127.0.0.1:15151/; done
python3 scripts/page-check.py http://127.0.0.1:9951 sesame "${SCREENSHOT:-$WORK/page.png}" http://127.0.0.1:15151/ \
    || fail "the page in Chromium"
