#!/usr/bin/env bash
# System tools the test suite uses besides Node: openssl (the TLS test makes
# its certificate), Debian's python3-grpcio and python3-protobuf (the
# Python client in test/cross-language.test.ts) and Debian's prometheus for
# promtool (test/promtool-metrics.test.ts lints a scrape). Run before `npm test`
# (the pretest script); installs what is missing with apt when it can.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
/usr/bin/python3 -c "import grpc, google.protobuf" 2>/dev/null || need+=(python3-grpcio python3-protobuf)
command -v promtool >/dev/null || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "test prerequisites missing: ${need[*]} (install them with apt-get; the tests that need them will fail)" >&2
  exit 0
fi
echo "installing test prerequisites: ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
