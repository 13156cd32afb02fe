#!/usr/bin/env bash
# Builds Outrigger (release) and runs it on the shipped config; extra arguments go to `outrigger run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release
exec .build/release/outrigger run --config config/outrigger.yaml "$@"
