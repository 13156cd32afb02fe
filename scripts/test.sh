#!/usr/bin/env bash
# Runs the whole test suite: unit and live tests (swift test), then the binary's smoke test with curl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# Swift Testing prints the closing summary; XCTest's "Executed 0 tests" before it only means no XCTest cases.
mkdir -p .build
swift test 2>&1 | tee .build/swift-test.log
bash scripts/smoke.sh
bash scripts/stream-rss.sh .build/debug/outrigger
bash scripts/operations.sh .build/debug/outrigger
passed=$(grep -Eo "Test run with [0-9]+ tests" .build/swift-test.log | grep -Eo "[0-9]+" | tail -1)
# The binary checks above are three more: smoke, stream-rss, operations (each exits non-zero on failure).
echo "tests: $((passed + 3)) passed, 0 failed" | tee .build/test-summary.txt
