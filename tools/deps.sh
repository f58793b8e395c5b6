#!/bin/bash
# Install every build and test dependency of dmscale on Debian 12 (idempotent).
# Build dependencies come from debian/control (one source of truth for the
# package and the tests); test-only packages are the short list below.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

TEST_PKGS=(
  # unit tests: cmocka, sanitizers (gcc), valgrind, fuzzers (clang + libFuzzer)
  libcmocka-dev valgrind clang libclang-rt-14-dev
  # lint and package checks
  cppcheck clang-tidy lintian git
  # Python tests (unit_py, VM test bed driver, Prometheus format check)
  python3 python3-pytest python3-pytest-xdist python3-prometheus-client
  # VM test bed: QEMU, guest image (mmdebstrap), NoCloud seed (vfat), hostile disks
  qemu-system-x86 qemu-utils mmdebstrap e2fsprogs dosfstools mtools nbdkit
  # the simulator against the aws CLI amazon-ebs-autoscale runs with (tests/unit_py/test_ec2sim_awscli.py)
  awscli
)
# node + npm for tests/aws-js (AWS's own SigV4 signer and EC2 client); Debian
# 12's nodejs 18 suffices. A node that is already installed (with its npm) is kept.
command -v node >/dev/null 2>&1 || TEST_PKGS+=(nodejs)
command -v npm  >/dev/null 2>&1 || TEST_PKGS+=(npm)

missing=()
for p in "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
builddeps_ok=0
if command -v dpkg-checkbuilddeps >/dev/null 2>&1 && dpkg-checkbuilddeps debian/control 2>/dev/null; then
  builddeps_ok=1
fi
if [ ${#missing[@]} -eq 0 ] && [ $builddeps_ok = 1 ]; then
  echo "deps: build dependencies and ${#TEST_PKGS[@]} test packages already installed"
else
  apt-get update -q
  if [ $builddeps_ok = 0 ]; then
    echo "deps: installing the build dependencies of debian/control"
    apt-get build-dep -y -q --no-install-recommends ./
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# tests/aws-js: pinned @aws-sdk/client-ec2 + @smithy/signature-v4; reinstalled when the lock changes
JS=tests/aws-js
want=$(sha256sum "$JS/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$JS/node_modules/.lock-sha256" 2>/dev/null)" != "$want" ]; then
  echo "deps: npm ci in $JS"
  npm ci --prefix "$JS" --no-audit --no-fund --loglevel=error
  echo "$want" > "$JS/node_modules/.lock-sha256"
fi
