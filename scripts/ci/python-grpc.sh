#!/usr/bin/env bash
# Installs what the gRPC conformance test's Python client needs, from Debian's
# packages, when missing: python3-grpcio and python3-protobuf (run by
# /usr/bin/python3, whatever python3 comes first on PATH), protoc and
# grpc_python_plugin to generate its stubs from proto/. Needs root. Fails,
# never skips, when it cannot: the test must run.
set -euo pipefail
ready() {
  [ -x /usr/bin/protoc ] && [ -x /usr/bin/grpc_python_plugin ] &&
    /usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null
}
if ! ready; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3 python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc >/dev/null
fi
if ! ready; then
  echo "python3-grpcio, python3-protobuf, protoc or grpc_python_plugin still missing after apt-get install" >&2
  exit 1
fi
printf 'protoc %s, grpcio %s\n' "$(/usr/bin/protoc --version | cut -d' ' -f2)" "$(/usr/bin/python3 -c 'import grpc; print(grpc.__version__)')"
