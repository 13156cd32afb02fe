#!/usr/bin/env bash
# Runs the whole test suite: unit and live tests (swift test), then the binary's checks with curl. The closing
# line counts only checks that ran and passed: each Swift test the runner reported as passed, and each binary
# check that reached its end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
mkdir -p .build
swift test 2>&1 | tee .build/swift-test.log
# Swift Testing prints one "✔ Test NAME() passed" line per test that ran and passed (XCTest's "Executed 0
# tests" only means there are no XCTest cases); a skipped test prints no such line.
swift_passed=$(grep -E '^✔ Test .+ passed' .build/swift-test.log | grep -vc '^✔ Test run with' || true)
swift_total=$(grep -Eo 'Test run with [0-9]+ tests' .build/swift-test.log | grep -Eo '[0-9]+' | tail -1)
if [ "$swift_passed" != "$swift_total" ]; then
    echo "tests: swift test ran $swift_total tests but only $swift_passed passed" >&2
    exit 1
fi
binary_checks=0
for check in "scripts/smoke.sh" "scripts/stream-rss.sh .build/debug/outrigger" \
    "scripts/operations.sh .build/debug/outrigger" "scripts/contract.sh .build/debug/outrigger" \
    "scripts/tls.sh .build/debug/outrigger" "scripts/websocket.sh .build/debug/outrigger" \
    "scripts/http2.sh .build/debug/outrigger" "scripts/grpc.sh .build/debug/outrigger" \
    "scripts/faults.sh .build/debug/outrigger" "scripts/discovery.sh .build/debug/outrigger" \
    "scripts/otlp.sh .build/debug/outrigger" "scripts/status.sh .build/debug/outrigger" \
    "scripts/page.sh .build/debug/outrigger" "scripts/openapi.sh .build/debug/outrigger" \
    "scripts/monitoring.sh .build/debug/outrigger"; do
    # shellcheck disable=SC2086 # the check's arguments are split on purpose
    bash $check
    binary_checks=$((binary_checks + 1))
done
echo "tests: $((swift_passed + binary_checks)) passed, 0 failed ($swift_passed swift tests, $binary_checks binary checks)" \
    | tee .build/test-summary.txt
