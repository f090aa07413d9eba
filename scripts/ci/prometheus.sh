#!/usr/bin/env bash
# Installs Debian's Prometheus for the metrics test (test/e2e/metrics.e2e.test.ts), which
# scrapes a real server with it, when missing. Needs root. Fails, never skips, when it cannot
# be had. The test runs its own Prometheus on a free port: the package's service is not used.
set -euo pipefail
if [ -x /usr/bin/prometheus ] && /usr/bin/prometheus --version >/dev/null 2>&1; then
  /usr/bin/prometheus --version 2>&1 | head -n 1
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
/usr/bin/prometheus --version 2>&1 | head -n 1
