"""Drives the admin page (SPEC §14) in headless Chromium over the DevTools protocol: the page loads, asks for the
token, shows every service with the one in trouble first, numbers that change as traffic flows, a breaker button
that acts through the API, and a screenshot that is not blank.

usage: page-check.py ADMIN_URL TOKEN SCREENSHOT.png TRAFFIC_URL
       page-check.py --capture ADMIN_URL TOKEN SCREENSHOT.png   (only the screenshot, for the README)
Chromium is started here (headless, its own profile) and stopped at the end.
"""
import base64, io, json, os, shutil, subprocess, sys, tempfile, time, urllib.request

from websockets.sync.client import connect
from PIL import Image

capture_only = sys.argv[1] == "--capture"
if capture_only:
    admin, token, shot = sys.argv[2:5]
else:
    admin, token, shot, traffic = sys.argv[1:5]


def fail(message):
    print("page: " + message, file=sys.stderr)
    sys.exit(1)


def admin_get(path):
    request = urllib.request.Request(admin + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def poll(what, probe, seconds=20):
    """Calls probe until it returns something true, against a deadline."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            fail("timed out waiting for " + what)
        time.sleep(0.2)


profile = tempfile.mkdtemp()
browser = subprocess.Popen(
    [shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
     "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars", "--window-size=1280,760",
     "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    poll("Chromium's DevTools port", lambda: os.path.exists(port_file) and open(port_file).read().strip())
    port = open(port_file).read().split()[0]
    targets = poll("a page target", lambda: [t for t in json.load(urllib.request.urlopen(
        "http://127.0.0.1:%s/json/list" % port)) if t["type"] == "page"])
    ws = connect(targets[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024).__enter__()
    ids = iter(range(1, 1 << 30))

    def call(method, **params):
        ident = next(ids)
        ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    fail("%s: %s" % (method, message["error"]))
                return message["result"]

    def js(expression):
        result = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            fail("script error in %r: %s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    call("Page.enable")
    call("Runtime.enable")
    call("Page.navigate", url=admin + "/")
    poll("the page to load", lambda: js("location.href.startsWith(%s) && document.readyState === 'complete' && "
                                        "!!document.getElementById('banner')" % json.dumps(admin)))
    def enter_token():
        """Types the token into the page's field, as a user would, and lets the page refresh with it."""
        js("(() => { const i = document.getElementById('token'); i.value = %s; "
           "i.dispatchEvent(new Event('change')); })()" % json.dumps(token))

    def screenshot():
        return base64.b64decode(call("Page.captureScreenshot", format="png")["data"])

    if capture_only:
        if token:
            enter_token()
        poll("service cards", lambda: js("document.querySelectorAll('[data-service]').length"))
        with open(shot, "wb") as out:
            out.write(screenshot())
        print("page: screenshot written to " + shot)
        sys.exit(0)
    # With admin.token set, the first refresh is refused and the page asks for the token.
    banner = poll("the token banner", lambda: js("document.getElementById('banner').offsetParent && "
                                                  "document.getElementById('banner').textContent"))
    if "needs a token" not in banner:
        fail("banner says %r" % banner)
    enter_token()
    cards = poll("service cards", lambda: js("[...document.querySelectorAll('[data-service]')]"
                                            ".map(c => [c.dataset.service, c.dataset.state, c.className])"))
    names = [c[0] for c in cards]
    if sorted(names) != ["orders", "payments"]:
        fail("cards for %r" % names)
    # payments' breaker is open (its endpoints refuse): it comes first, marked.
    if cards[0][0] != "payments" or cards[0][1] != "open" or "bad" not in cards[0][2]:
        fail("trouble not first: %r" % cards)
    if "open" not in js("document.getElementById('summary').textContent"):
        fail("summary does not say a breaker is open")
    notes = js("document.getElementById('notes').textContent")
    if "etcd discovery never synced" not in notes or "127.0.0.1:18659" not in notes:
        fail("no note about discovery: %r" % notes)

    # Numbers follow traffic: orders' requests per second become non-zero and the request total grows.
    before = js("document.getElementById('meta').textContent")
    def moved():
        for _ in range(10):
            urllib.request.urlopen(urllib.request.Request(traffic, headers={"Host": "orders"}), timeout=5).read()
        rps = js("document.querySelector('[data-service=orders] [data-field=rps]').textContent")
        meta = js("document.getElementById('meta').textContent")
        return rps not in ("–", "0.0") and meta != before and (rps, meta)
    rps, meta = poll("orders' numbers to move", moved)
    chart = js("document.querySelector('[data-service=orders] [data-chart=errors]').childElementCount")
    if not chart:
        fail("orders' request chart is empty")

    # The page fetches the history whole once, then only newer ticks (?since=): what it has put together must be
    # what the daemon holds, tick for tick, over at least three refreshes.
    poll("three refreshes of history", lambda: js("kept && kept.times.length >= 4"))
    times, counts = js("[kept.times, kept.columns.orders.requests]")
    full = admin_get("/history")
    orders = [s for s in full["services"] if s["name"] == "orders"][0]
    server = dict(zip(full["times_ms"][-len(orders["requests"]):], orders["requests"]))
    common = [(t, c) for t, c in zip(times, counts) if t in server]
    if len(common) < 3 or any(server[t] != c for t, c in common):
        fail("the page's history differs from the daemon's: page %r, daemon %r" % (list(zip(times, counts))[-8:],
                                                                               sorted(server.items())[-8:]))

    # A breaker button: open orders from the page, see it in the API and on the page, then reset it.
    js("document.querySelector('[data-service=orders] [data-action=open]').click()")
    poll("orders forced open in the API", lambda: (lambda b: b["state"] == "open" and b["forced"])(
        admin_get("/breakers/orders")))
    poll("orders shown open", lambda: js("document.querySelector('[data-service=orders]').dataset.state") == "open")
    data = screenshot()
    js("document.querySelector('[data-service=orders] [data-action=reset]').click()")
    poll("orders reset in the API", lambda: (lambda b: b["state"] == "closed" and not b["forced"])(
        admin_get("/breakers/orders")))

    # The screenshot (both breakers open) is not blank: many colours, and the red of an open breaker.
    with open(shot, "wb") as out:
        out.write(data)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    reds = sum(n for n, (r, g, b) in colours if r > 180 and g < 80 and b < 80)
    if image.size[0] < 1000 or len(colours) < 50 or reds < 200:
        fail("the screenshot looks blank: %d colours, %d red pixels, size %r" % (len(colours), reds, image.size))
    print("page: ok (token asked, trouble first, rps %s, breaker open/reset from the page, screenshot %d colours)"
          % (rps, len(colours)))
finally:
    if "ws" in globals():
        ws.close()
    browser.terminate()
    try:
        browser.wait(10)
    except subprocess.TimeoutExpired:
        browser.kill()
    shutil.rmtree(profile, ignore_errors=True)
