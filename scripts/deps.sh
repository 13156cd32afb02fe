#!/usr/bin/env bash
# Installs the system packages Outrigger builds against, when missing (Debian/Ubuntu).
set -euo pipefail
need=()
for pkg in libcurl4-openssl-dev libssl-dev libyaml-dev curl python3 openssl nghttp2-client nghttp2-server etcd-server etcd-client \
    chromium fonts-dejavu-core prometheus; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
SUDO=""
[ "$(id -u)" != "0" ] && SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Prometheus text parser the operations check feeds /metrics to.
if ! python3 -c "import prometheus_client" 2>/dev/null; then
    python3 -m pip install -q prometheus-client 2>/dev/null \
        || $SUDO apt-get install -y -qq --no-install-recommends python3-prometheus-client >/dev/null
fi
# Python's websockets: client and upstream of scripts/websocket.sh.
if ! python3 -c "import websockets" 2>/dev/null; then
    python3 -m pip install -q websockets 2>/dev/null || python3 -m pip install -q --break-system-packages websockets
fi
# grpcio and its health service: client and upstream of scripts/grpc.sh.
if ! python3 -c "import grpc, grpc_health" 2>/dev/null; then
    python3 -m pip install -q grpcio grpcio-health-checking 2>/dev/null \
        || python3 -m pip install -q --break-system-packages grpcio grpcio-health-checking
fi
# Locust: the chaos suite's traffic (scripts/chaos.sh).
if ! python3 -c "import locust" 2>/dev/null; then
    python3 -m pip install -q locust 2>/dev/null || python3 -m pip install -q --break-system-packages locust
fi
# opentelemetry-proto: the span receiver of scripts/otlp.sh decodes with the official definitions.
if ! python3 -c "import opentelemetry.proto" 2>/dev/null; then
    python3 -m pip install -q opentelemetry-proto 2>/dev/null \
        || python3 -m pip install -q --break-system-packages opentelemetry-proto
fi
# schemathesis and openapi-spec-validator: the admin API's contract (scripts/openapi.sh); Pillow reads the admin
# page's screenshot (scripts/page-check.py).
if ! python3 -c "import schemathesis, openapi_spec_validator, PIL" 2>/dev/null; then
    python3 -m pip install -q schemathesis openapi-spec-validator pillow 2>/dev/null \
        || python3 -m pip install -q --break-system-packages schemathesis openapi-spec-validator pillow 2>/dev/null \
        || python3 -m pip install -q --break-system-packages --ignore-installed schemathesis openapi-spec-validator pillow
fi
