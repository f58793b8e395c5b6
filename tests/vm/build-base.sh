#!/bin/bash
# Build (or reuse) the cached Debian 12 guest root filesystem for the VM test bed.
# Output: $OUT/rootfs/ (a directory) and $OUT/rootfs.stamp holding the recipe hash.
# The recipe hash covers this script, so changing the package list rebuilds.
set -euo pipefail
OUT=${1:?usage: build-base.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
PKGS=(
  systemd-sysv udev kmod dbus
  e2fsprogs xfsprogs btrfs-progs lvm2 thin-provisioning-tools util-linux
  linux-image-cloud-amd64 qemu-guest-agent
  libdevmapper1.02.1 libudev1 libaio1 libcurl4 libjansson4 libblkid1 libkmod2
  libxml2 libssl3 ca-certificates iproute2 procps fio strace python3-minimal
  docker.io cloud-init busybox-static
)
recipe=$( (cat "$0" "$here/customize-guest.sh"; printf '%s\n' "${PKGS[@]}") | sha256sum | cut -c1-16)
if [ -f "$OUT/rootfs.stamp" ] && [ "$(cat "$OUT/rootfs.stamp")" = "$recipe" ] && [ -d "$OUT/rootfs/boot" ]; then
  echo "build-base: reusing cached guest rootfs ($recipe)"
  exit 0
fi
mkdir -p "$OUT"
rm -rf "$OUT/rootfs" "$OUT/rootfs.stamp"
# Use the same mirror as the host's apt sources.
mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null \
          | grep -v security | grep -m1 debian || true)
mirror=${mirror:-http://deb.debian.org/debian/}
security=${mirror%/debian/}/debian-security
echo "build-base: mmdebstrap from $mirror (recipe $recipe)"
start=$(date +%s)
mmdebstrap --variant=minbase --mode=root \
  --include="$(IFS=,; echo "${PKGS[*]}")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="$here/customize-guest.sh \"\$1\"" \
  bookworm "$OUT/rootfs" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"
echo "$recipe" > "$OUT/rootfs.stamp"
echo "build-base: done in $(( $(date +%s) - start )) s, $(du -sh "$OUT/rootfs" | cut -f1)"
