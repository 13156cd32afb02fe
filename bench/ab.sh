#!/usr/bin/env bash
# A/B of Outrigger settings in one run: bench/run.sh once per variant, each with nginx measured beside it, and a
# table of Outrigger's CPU per request (64 B and 16 KiB) per variant with its ratio to nginx in the same round.
#
# Usage: bench/ab.sh 'tracing: { formats: [] }' 'tracing: { formats: [w3c, b3] }'
#   (env as bench/run.sh; defaults here: DURATION=8 ROUNDS=1)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/ab.sh 'YAML for variant A' ['YAML for variant B' ...]" >&2; exit 2; }
export DURATION=${DURATION:-8} ROUNDS=${ROUNDS:-1}
mkdir -p bench/out
: >bench/out/ab.txt
index=0
for variant in "$@"; do
    index=$((index + 1))
    OUT=bench/out/ab-$index PROXIES="nginx outrigger" OUTRIGGER_YAML="$variant" bash bench/run.sh >/dev/null
    python3 - "$variant" "bench/out/ab-$index/results.txt" <<'PY' | tee -a bench/out/ab.txt
import statistics, sys
variant, path = sys.argv[1:3]
rows = {}
for line in open(path):
    name, size, rps, cpu, p50, errors = line.split()
    rows.setdefault((name, size), []).append(float(cpu))
cells = []
for size, label in (("small", "64B"), ("large", "16KiB")):
    o = statistics.median(rows[("outrigger", size)])
    n = statistics.median(rows[("nginx", size)])
    cells.append(f"{label} {o:.1f} us ({o / n:.2f}x nginx {n:.1f})")
print(f"{variant:<40} " + "  ".join(cells))
PY
done
