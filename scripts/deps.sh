#!/usr/bin/env bash
# Installs the system packages Outrigger builds against, when missing (Debian/Ubuntu).
set -euo pipefail
need=()
for pkg in libcurl4-openssl-dev libssl-dev curl python3 openssl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" != "0" ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
