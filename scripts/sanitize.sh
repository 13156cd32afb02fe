#!/usr/bin/env bash
# Builds the test suite with ThreadSanitizer and with AddressSanitizer (LeakSanitizer included) and runs the
# whole of it (unit and live tests: real sockets, curl workers, reloads, admin reads, breaker trips, 1 GiB-class
# streaming) under each. Exits non-zero on any test failure or sanitizer report. Suppressions, each with its
# reason, live in Tests/sanitizers/ and hold only proven toolchain issues.
# Usage: scripts/sanitize.sh [thread|address ...]     (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then KINDS=("$@"); else KINDS=(thread address); fi
export SWIFT_BACKTRACE=enable=no  # the sanitizer reports; Swift's backtracer would hold the output open
export TSAN_OPTIONS="halt_on_error=0 suppressions=$PWD/Tests/sanitizers/tsan.supp"
export ASAN_OPTIONS="detect_leaks=1"
export LSAN_OPTIONS="suppressions=$PWD/Tests/sanitizers/lsan.supp print_suppressions=0"
for kind in "${KINDS[@]}"; do
    build=".build-$kind"
    mkdir -p "$build"
    swift build --build-tests --build-path "$build" -Xswiftc -sanitize="$kind" >"$build/sanitize-build.log" 2>&1 \
        || { tail -30 "$build/sanitize-build.log"; echo "sanitize: $kind build failed" >&2; exit 1; }
    log="$build/sanitize-run.log"
    status=0
    # One test at a time: a sanitized build is several times slower, and 2 cores shared by every live test at once
    # starve the timing-bounded ones (their deadlines are for a loaded machine, not for 10x slower code).
    swift test --skip-build --no-parallel --build-path "$build" -Xswiftc -sanitize="$kind" >"$log" 2>&1 || status=$?
    reports=$(grep -cE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$log" || true)
    summary=$(grep -E "Test run with" "$log" | tail -1)
    if [ "$status" != 0 ] || [ "$reports" != 0 ]; then
        grep -E -A30 "WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer" "$log" | head -80 >&2 || true
        grep -E "✘ Test [a-zA-Z_]+\(.*recorded" "$log" | head -20 >&2 || true
        echo "sanitize: $kind: $reports report(s), exit $status; $summary (log: $log)" >&2
        exit 1
    fi
    echo "sanitize: $kind: no report; $summary"
done
