#!/usr/bin/env bash
# Runs the whole test suite: unit and live tests (swift test), then the binary's smoke test with curl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift test
bash scripts/smoke.sh
bash scripts/stream-rss.sh .build/debug/outrigger
bash scripts/operations.sh .build/debug/outrigger
