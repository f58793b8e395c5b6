#!/bin/bash
# Install every build and test dependency of dmscale on Debian 12. Idempotent.
set -euo pipefail
PKGS=(
  build-essential pkg-config
  libdevmapper-dev libudev-dev libaio-dev libcurl4-openssl-dev libjansson-dev
  libblkid-dev libkmod-dev libxml2-dev libssl-dev libcmocka-dev
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs
  python3 python3-pytest python3-pytest-xdist python3-prometheus-client cppcheck valgrind
)
# node + npm for tests/aws-js (AWS's own SigV4 signer and EC2 client); Debian 12's nodejs 18 suffices
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm  >/dev/null 2>&1 || PKGS+=(npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages already installed"
else
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# tests/aws-js: pinned @aws-sdk/client-ec2 + @smithy/signature-v4; reinstalled when the lock changes
cd "$(dirname "$0")/.."
JS=tests/aws-js
want=$(sha256sum "$JS/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$JS/node_modules/.lock-sha256" 2>/dev/null)" != "$want" ]; then
  echo "deps: npm ci in $JS"
  npm ci --prefix "$JS" --no-audit --no-fund --loglevel=error
  echo "$want" > "$JS/node_modules/.lock-sha256"
fi
