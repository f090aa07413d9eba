#!/usr/bin/env bash
# Installs the load generators the benchmarks use (wrk for HTTP/1.1, h2load for
# h2c), from Debian's packages. Not used by CI: benchmarks are not tests.
set -euo pipefail
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
