#!/usr/bin/env bash
# deploy/monitoring against promtool and the binary: the alert rules check, their unit tests pass, the dashboard is
# JSON Grafana can import (panels with queries, variables), and every outrigger_ metric the rules and the dashboard
# name is one a daemon exports (read from a live /metrics with discovery and span export configured, so their
# metrics are there too: etcd and the collector point at a closed port).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/live-check.sh monitoring "$@"
command -v promtool >/dev/null || fail "promtool is not installed (apt-get install prometheus)"

(cd deploy/monitoring && promtool check rules alerts.yaml && promtool test rules alerts.test.yaml) >"$WORK/promtool.out" 2>&1 \
    || { cat "$WORK/promtool.out" >&2; fail "promtool"; }

cat >"$WORK/registry.yaml" <<'YAML'
services:
  orders:
    endpoints: [127.0.0.1:18681]
YAML
cat >"$WORK/outrigger.yaml" <<YAML
listen: 127.0.0.1:15181
admin: { listen: 127.0.0.1:9981 }
registry: registry.yaml
discovery:
  etcd: { endpoints: ["http://127.0.0.1:18689"], prefix: /outrigger/services }
tracing:
  otlp: { endpoint: "http://127.0.0.1:18688/v1/traces" }
YAML
start_daemon http://127.0.0.1:9981/ready
curl -s -o /dev/null -H 'Host: orders' http://127.0.0.1:15181/
curl -sf http://127.0.0.1:9981/metrics -o "$WORK/metrics" || fail "GET /metrics"

python3 - "$WORK/metrics" deploy/monitoring <<'PY' || fail "rules or dashboard name metrics Outrigger does not export"
import json, re, sys, yaml
exported = set()
for line in open(sys.argv[1]):
    if line.startswith("# TYPE "):
        name, kind = line.split()[2:4]
        exported.add(name)
        if kind == "histogram":
            exported |= {name + "_bucket", name + "_sum", name + "_count"}
folder = sys.argv[2]
rules = yaml.safe_load(open(folder + "/alerts.yaml"))
expressions = [("alerts.yaml " + r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]
dashboard = json.load(open(folder + "/grafana-dashboard.json"))
assert dashboard["panels"], "no panels"
for panel in dashboard["panels"]:
    assert panel["targets"], "panel %r has no query" % panel["title"]
    expressions += [("dashboard " + panel["title"], t["expr"]) for t in panel["targets"]]
for variable in dashboard["templating"]["list"]:
    if variable["type"] == "query":
        expressions.append(("dashboard variable " + variable["name"], variable["query"]))
unknown = [(where, name) for where, expr in expressions for name in re.findall(r"\boutrigger_[a-z0-9_]+", expr)
           if name not in exported]
if unknown:
    sys.exit("not exported: %r" % unknown)
names = {n for _, e in expressions for n in re.findall(r"\boutrigger_[a-z0-9_]+", e)}
print("monitoring: %d rules and their tests pass; %d dashboard panels; %d metric names, all exported"
      % (len(rules["groups"][0]["rules"]), len(dashboard["panels"]), len(names)))
PY
