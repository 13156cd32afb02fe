#!/usr/bin/env bash
# Registers one instance of a service in etcd for Outrigger's discovery (SPEC §12, docs/discovery.md), under a
# lease kept alive while this script runs: when the instance (or this script) dies, the lease expires after TTL
# seconds and every sidecar stops sending it traffic within a second of that.
#
#   deploy/etcd/register.sh orders 10.0.0.7:8080            # blocks; run it beside the instance (systemd, supervisor)
#   ETCDCTL_ENDPOINTS=http://etcd-1:2379,http://etcd-2:2379 PREFIX=/outrigger/services/ TTL=10 deploy/etcd/register.sh ...
#
# A service's policy (the registry's per-service keys other than endpoints) is one JSON key, put once:
#   etcdctl put /outrigger/services/orders/config '{"request_timeout": "2s", "retries": {"attempts": 1}}'
set -euo pipefail
service=${1:?usage: register.sh SERVICE HOST:PORT [ID]}
address=${2:?usage: register.sh SERVICE HOST:PORT [ID]}
id=${3:-$(hostname)-${address//[:\/]/_}}
prefix=${PREFIX:-/outrigger/services/}
ttl=${TTL:-10}
export ETCDCTL_API=3
export ETCDCTL_ENDPOINTS=${ETCDCTL_ENDPOINTS:-http://127.0.0.1:2379}

lease=$(etcdctl lease grant "$ttl" | awk '/granted/ {print $2}')
[ -n "$lease" ] || { echo "register: could not get a lease from $ETCDCTL_ENDPOINTS" >&2; exit 1; }
key="${prefix}${service}/endpoints/${id}"
etcdctl put --lease="$lease" "$key" "$address" >/dev/null
echo "register: $key = $address (lease $lease, ttl ${ttl}s)"
# The keep-alive runs in the background so that a signal reaches the trap at once (bash waits for a foreground
# child before running traps); on a clean stop the lease is revoked, so the instance goes at once rather than
# after the ttl.
etcdctl lease keep-alive "$lease" >/dev/null &
keeper=$!
trap 'kill "$keeper" 2>/dev/null || true; etcdctl lease revoke "$lease" >/dev/null 2>&1 || true; echo "register: $key removed"' EXIT
trap 'exit 0' INT TERM
wait "$keeper"
