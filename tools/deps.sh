#!/bin/bash
# Install every build and test dependency of dmscale on Debian 12. Idempotent.
set -euo pipefail
PKGS=(
  build-essential pkg-config
  libdevmapper-dev libudev-dev libaio-dev libcurl4-openssl-dev libjansson-dev
  libblkid-dev libkmod-dev libxml2-dev libssl-dev libcmocka-dev
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs
  python3 python3-pytest cppcheck valgrind
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
