# The shared start of the live checks (tls.sh, websocket.sh, http2.sh, grpc.sh, status.sh, page.sh, ...), sourced as
# `. scripts/live-check.sh NAME [BIN]`: the binary to drive (built when missing), a work folder removed at exit
# together with the processes the check started (PROXY_PID, UP_PID, KEEP_PID), and `fail MESSAGE`, which names
# the check and shows the end of the daemon's log.
CHECK=$1
BIN=${2:-.build/debug/outrigger}
[ -x "$BIN" ] || swift build >/dev/null
WORK=$(mktemp -d)
cleanup() {
    for pid in "${PROXY_PID:-}" "${UP_PID:-}" "${KEEP_PID:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "$CHECK: $*" >&2; tail -20 "$WORK/proxy.log" >&2 2>/dev/null || true; exit 1; }
# `start_daemon URL...`: runs "$BIN" on "$WORK/outrigger.yaml" (access log lines to "$WORK/access.out", its log to
# "$WORK/proxy.log") and waits, up to 10 s, until every URL answers (the admin's /ready, an upstream).
start_daemon() {
    "$BIN" run --config "$WORK/outrigger.yaml" >"$WORK/access.out" 2>"$WORK/proxy.log" &
    PROXY_PID=$!
    local url
    for url in "$@"; do
        for _ in $(seq 1 100); do curl -s -o /dev/null "$url" && continue 2; sleep 0.1; done
        fail "nothing answered at $url within 10 s"
    done
}
