#!/usr/bin/env bash
# Installs Debian's HAProxy for the load-balancer tests (test/e2e/load-balancer.e2e.test.ts),
# when missing. Needs root. Fails, never skips, when it cannot be had.
set -euo pipefail
if [ -x /usr/sbin/haproxy ] && /usr/sbin/haproxy -v >/dev/null 2>&1; then
  /usr/sbin/haproxy -v 2>/dev/null | head -n 1
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq haproxy >/dev/null
/usr/sbin/haproxy -v | head -n 1
