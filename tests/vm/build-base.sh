#!/bin/bash
# Build (or reuse) the cached Debian 12 guest root filesystem for the VM test bed.
# The cache lives outside the clone ($DMSCALE_CACHE, default /var/cache/dmscale),
# keyed by a recipe hash (this script, the guest hook and the package list), so
# a clean CI clone reuses it. $OUT/rootfs becomes a symlink to the cached tree.
# A cache entry is used only if its stamp (written last, after an atomic rename)
# names the recipe and its file manifest still matches: a partial or damaged
# tree is detected and rebuilt, never used.
set -euo pipefail
OUT=${1:?usage: build-base.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${DMSCALE_CACHE:-/var/cache/dmscale}/guest
PKGS=(
  systemd-sysv udev kmod dbus
  e2fsprogs xfsprogs btrfs-progs lvm2 thin-provisioning-tools util-linux
  linux-image-cloud-amd64 qemu-guest-agent
  libdevmapper1.02.1 libudev1 libaio1 libcurl4 libjansson4 libblkid1 libkmod2
  libmount1 libuuid1 libxml2 libssl3 ca-certificates iproute2 procps fio strace python3-minimal
  docker.io cloud-init busybox-static
)
recipe=$( (cat "$0" "$here/customize-guest.sh" "$here/../../tools/apt-sources.sh"; printf '%s\n' "${PKGS[@]}") | sha256sum | cut -c1-16)
entry=$CACHE/$recipe

# Names, types, sizes and modes of every file: cheap (about a second) and
# catches a tree that was cut short or damaged after it was stamped.
manifest() { (cd "$1" && find . -xdev -printf '%p %y %s %m %l\n' | LC_ALL=C sort | sha256sum | cut -c1-64); }

link_out() {
  mkdir -p "$OUT"
  rm -rf "$OUT/rootfs" "$OUT/rootfs.stamp"
  ln -s "$entry/rootfs" "$OUT/rootfs"
}

if [ -f "$entry/stamp" ] && [ -d "$entry/rootfs/boot" ]; then
  read -r s_recipe s_manifest < "$entry/stamp" || true
  if [ "${s_recipe:-}" = "$recipe" ] && [ "${s_manifest:-}" = "$(manifest "$entry/rootfs")" ]; then
    echo "build-base: reusing cached guest rootfs $entry"
    touch "$entry"
    link_out
    exit 0
  fi
  echo "build-base: cached rootfs $entry does not match its stamp (partial or damaged): rebuilding"
fi

# The host's own apt sources, and nothing else: no mirror is named in this tree.
sources_txt=$("$here/../../tools/apt-sources.sh")
mapfile -t sources <<< "$sources_txt"

mkdir -p "$CACHE"
# Entries of other recipes unused for a week are stale (another checkout may
# still boot guests from a newer one, so never remove those).
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$recipe" -mtime +7 -exec rm -rf {} +
tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build-base: mmdebstrap from ${sources[0]} (recipe $recipe)"
start=$(date +%s)
mmdebstrap --variant=minbase --mode=root \
  --include="$(IFS=,; echo "${PKGS[*]}")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="$here/customize-guest.sh \"\$1\"" \
  bookworm "$tmp/rootfs" "${sources[@]}"
rm -rf "$entry"
mkdir -p "$entry"
mv "$tmp/rootfs" "$entry/rootfs"
sync -f "$entry/rootfs"
echo "$recipe $(manifest "$entry/rootfs")" > "$entry/stamp.tmp"
sync "$entry/stamp.tmp"
mv "$entry/stamp.tmp" "$entry/stamp"
link_out
echo "build-base: done in $(( $(date +%s) - start )) s, $(du -sh "$entry/rootfs" | cut -f1)"
