#!/usr/bin/env bash
# Regenerates docs/images/admin-page.png, the README's picture of the admin page: three services behind a release
# build — orders healthy, inventory slow with 10 % 5xx, payments down with its breaker open — under two minutes
# of uneven traffic, then the page captured in headless Chromium. SCREENSHOT_SECONDS shortens the traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .build/release/outrigger ] || swift build -c release >/dev/null
. scripts/live-check.sh screenshot .build/release/outrigger
cat >"$WORK/upstream.py" <<'PY'
import http.server, random, sys, time
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *args): pass
    def do_GET(self):
        slow = self.server.server_address[1] == 18692
        if slow:
            time.sleep(random.choice([0.02, 0.04, 0.08, 0.12, 0.3]))
        status = 500 if slow and random.random() < 0.1 else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" 18691 &
UP_PID=$!
python3 "$WORK/upstream.py" 18692 &
KEEP_PID=$!
cat >"$WORK/registry.yaml" <<'YAML'
services:
  orders:
    endpoints: [127.0.0.1:18691]
  inventory:
    endpoints: [127.0.0.1:18692]
    retries: { attempts: 0 }
  payments:
    endpoints: [127.0.0.1:18693, 127.0.0.1:18694]
    breaker: { consecutive_failures: 5, open_for: 20s }
YAML
cat >"$WORK/outrigger.yaml" <<'YAML'
listen: 127.0.0.1:15191
admin: { listen: 127.0.0.1:9991 }
registry: registry.yaml
YAML
start_daemon http://127.0.0.1:9991/ready http://127.0.0.1:18691/ http://127.0.0.1:18692/
python3 - "${SCREENSHOT_SECONDS:-120}" <<'PY'
import math, sys, threading, time, urllib.request, urllib.error
end = time.monotonic() + float(sys.argv[1])
def call(service):
    try:
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:15191/", headers={"Host": service}), timeout=5).read()
    except (urllib.error.URLError, OSError):
        pass
def drive(service, base):
    while time.monotonic() < end:
        wave = 1 + 0.6 * math.sin(time.monotonic() / 9)
        call(service)
        time.sleep(1 / (base * wave))
threads = [threading.Thread(target=drive, args=a) for a in [("orders", 40), ("inventory", 8), ("payments", 2)]]
for t in threads: t.start()
for t in threads: t.join()
PY
mkdir -p docs/images
python3 scripts/page-check.py --capture http://127.0.0.1:9991 "" docs/images/admin-page.png
.build/release/outrigger status --config "$WORK/outrigger.yaml" || true
