#!/bin/bash
# Bench-only guest layer for the side-by-side run against amazon-ebs-autoscale
# (bench/seed.py): the VM test bed's cached rootfs (tests/vm/build-base.sh, left
# unchanged) plus the Debian packages upstream calls (awscli, curl, jq; bash,
# btrfs-progs, lvm2, e2fsprogs are already in the base). Cached next to the base
# under $DMSCALE_CACHE/bench-seed/<hash of this script + the base's recipe>, with
# the same stamp scheme: an entry is used only once complete.
#   bench/seed-image.sh OUTDIR     -> OUTDIR/rootfs-seed (symlink to the cache)
set -euo pipefail
OUT=${1:?usage: seed-image.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
"$here/../tests/vm/build-base.sh" "$OUT" >&2
base=$(readlink -f "$OUT/rootfs")
EXTRA=(awscli curl jq)
recipe=$( (cat "$0"; basename "$(dirname "$base")"; printf '%s\n' "${EXTRA[@]}") | sha256sum | cut -c1-16)
CACHE=${DMSCALE_CACHE:-/var/cache/dmscale}/bench-seed
entry=$CACHE/$recipe
link_out() { rm -f "$OUT/rootfs-seed"; ln -s "$entry/rootfs" "$OUT/rootfs-seed"; }
if [ -f "$entry/stamp" ] && [ "$(cat "$entry/stamp")" = "$recipe" ] && [ -x "$entry/rootfs/usr/bin/aws" ]; then
  echo "seed-image: reusing $entry" >&2
  link_out
  exit 0
fi
mkdir -p "$CACHE"
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$recipe" -mtime +7 -exec rm -rf {} +
tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
R=$tmp/rootfs
cleanup() {
  for m in "$R/proc" "$R/sys" "$R/dev"; do mountpoint -q "$m" && umount -l "$m"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
start=$(date +%s)
cp -a "$base" "$R"          # a real copy: apt must never write through into the base cache
"$here/../tools/apt-sources.sh" > "$R/etc/apt/sources.list"
cp /etc/resolv.conf "$R/etc/resolv.conf.bench" 2>/dev/null || true
mv "$R/etc/resolv.conf" "$R/etc/resolv.conf.keep" 2>/dev/null || true
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"
mount --bind /sys "$R/sys"
mount --bind /dev "$R/dev"
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get -qq update
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y --no-install-recommends \
  -o Dpkg::Options::=--path-exclude=/usr/share/doc/* -o Dpkg::Options::=--path-exclude=/usr/share/man/* \
  install "${EXTRA[@]}"
chroot "$R" apt-get clean
rm -rf "$R/var/lib/apt/lists/"*
rm -f "$R/etc/resolv.conf" "$R/etc/resolv.conf.bench"
mv "$R/etc/resolv.conf.keep" "$R/etc/resolv.conf" 2>/dev/null || true
for m in "$R/proc" "$R/sys" "$R/dev"; do umount -l "$m"; done
rm -rf "$entry"
mkdir -p "$entry"
mv "$R" "$entry/rootfs"
sync -f "$entry/rootfs"
echo "$recipe" > "$entry/stamp.tmp"; sync "$entry/stamp.tmp"; mv "$entry/stamp.tmp" "$entry/stamp"
link_out
echo "seed-image: built in $(( $(date +%s) - start )) s ($(chroot "$entry/rootfs" aws --version 2>&1 | head -1))" >&2
