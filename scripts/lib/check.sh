# Sourced by the binary checks (operations.sh, contract.sh, stream-rss.sh) after setting CHECK to their name:
# a scratch folder, background processes stopped on exit, and `fail`, which names the check and shows the end
# of the daemon's log.
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "$CHECK: $*"; [ -f "$WORK/daemon.log" ] && tail -20 "$WORK/daemon.log"; exit 1; }
