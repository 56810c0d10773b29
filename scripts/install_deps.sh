#!/usr/bin/env bash
# Installs the Debian 12 packages ct4_jobs needs to build and test. Idempotent;
# needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap
      libtap-parser-sourcehandler-pgtap-perl libgtest-dev libbenchmark-dev g++ make clang-format
      prometheus-postgres-exporter curl chromium python3)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
