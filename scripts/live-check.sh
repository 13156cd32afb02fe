# The shared start of the live checks (tls.sh, websocket.sh, http2.sh, grpc.sh), sourced as
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
