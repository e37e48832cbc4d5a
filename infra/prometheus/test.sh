#!/usr/bin/env bash
# Checks the scrape config and the alert rules, and runs every alert's test case (alerts.test.yml) with
# promtool. Installs Debian's prometheus package (which ships promtool) when promtool is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo 'promtool: not installed; run `sudo apt-get install -y prometheus`' >&2
    exit 1
  fi
  echo 'promtool: installing Debian package prometheus …'
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  # The package starts a Prometheus service; CI only needs the binary.
  (systemctl stop prometheus || service prometheus stop) >/dev/null 2>&1 || true
fi
promtool check config prometheus.yml
promtool test rules alerts.test.yml
