#!/bin/bash
# make check-fresh: prove that a fresh Debian 12 machine can build, package and
# unit-test dmscale from the committed tree with nothing but `make deps`.
# A minimal chroot (mmdebstrap minbase, this host's apt sources, nothing else)
# gets `git archive HEAD` and runs, as a new user would:
#   apt-get update && apt-get install -y make && make deps &&
#   make all man deb check-deb check-unit lint && tests/vm/preflight.sh
# Caches, outside the clone ($DMSCALE_CACHE, default /var/cache/dmscale/fresh),
# each a directory whose stamp is written last (a cut-short one is rebuilt):
# - base-KEY: the minbase tree, keyed by the host's apt sources;
# - deps-KEY: that tree as `make deps` left it, keyed by everything that decides
#   what `make deps` installs (tools/deps.sh, debian/control, the npm lock, this
#   script). Any change to those starts again from minbase. Otherwise the run
#   starts from that state (a throwaway overlay on top of it), where `make deps`
#   must be a fast no-op, so what is tested is still exactly what `make deps`
#   installed on a fresh machine;
# - apt-archives: downloaded .debs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CACHE=${DMSCALE_CACHE:-/var/cache/dmscale}/fresh
shared=$(cd "$top/../shared" 2>/dev/null && pwd) || {
  echo "check-fresh: ../shared (beside the project root) is missing; the unit tests read it" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "check-fresh: mmdebstrap is missing: run 'make deps'" >&2; exit 1; }
t_start=$(date +%s)

sources_txt=$("$here/apt-sources.sh")
basekey=$( (echo v2; printf '%s\n' "$sources_txt") | sha256sum | cut -c1-16)
depkey=$( (echo "$basekey"; cat "$here/deps.sh" "$top/debian/control" "$top/tests/aws-js/package-lock.json" "$0") \
          | sha256sum | cut -c1-16)
base=$CACHE/base-$basekey
deps=$CACHE/deps-$depkey
mkdir -p "$CACHE/apt-archives/partial"
rm -f "$CACHE"/*.tar "$CACHE"/*.tar.tmp          # older layout
stamped() { [ "$(cat "$1/.dmscale-stamp" 2>/dev/null)" = "$(basename "$1")" ]; }

if ! stamped "$base"; then
  echo "check-fresh: building the minimal Debian 12 base ($basekey)"
  find "$CACHE" -mindepth 1 -maxdepth 1 -name 'base-*' -exec rm -rf --one-file-system {} +
  mapfile -t sources <<< "$sources_txt"
  mmdebstrap --variant=minbase --mode=root bookworm "$base" "${sources[@]}"
  basename "$base" > "$base/.dmscale-stamp"
fi

work=$(mktemp -d /var/tmp/dmscale-fresh.XXXXXX)
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
if stamped "$deps"; then
  echo "check-fresh: starting from the cached state after 'make deps' ($depkey)"
  lower=$deps
else
  echo "check-fresh: starting from minbase ($basekey); 'make deps' installs everything"
  find "$CACHE" -mindepth 1 -maxdepth 1 -name 'deps-*' -exec rm -rf --one-file-system {} +
  cp -a "$base" "$work/new"
  rm -f "$work/new/.dmscale-stamp"
  lower=
fi
mkdir -p "$work/upper" "$work/ovl" "$work/root" "$work/src/dmscale"
git -C "$top" archive HEAD | tar -x -C "$work/src/dmscale"
echo "check-fresh: $(git -C "$top" rev-parse --short HEAD) in a fresh chroot"
if [ -n "$(git -C "$top" status --porcelain)" ]; then
  echo "check-fresh: note: uncommitted changes are NOT tested (git archive HEAD)"
fi
echo "check-fresh: set up in $(( $(date +%s) - t_start )) s"

# A private mount namespace: every mount below goes away with it.
start=$(date +%s)
unshare --mount --propagation private /bin/bash -euo pipefail -c '
  work=$1 lower=$2 shared=$3 archives=$4
  root=$work/root
  if [ -n "$lower" ]; then
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/ovl" "$root"
  else
    mount --bind "$work/new" "$root"
  fi
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
  mkdir -p "$root/src"
  mount --bind "$work/src" "$root/src"
  mkdir -p "$root/src/shared"
  mount --bind -o ro "$shared" "$root/src/shared"
  mount --bind "$archives" "$root/var/cache/apt/archives"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The workplace s own TLS trust (a fresh machine here has it too): the npm
  # registry is reached through it. Not a project dependency.
  if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  fi
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt /bin/bash -euo pipefail -c "
    cd /src/dmscale
    # Keep downloaded .debs in the bind-mounted cache for the next run.
    echo Binary::apt::APT::Keep-Downloaded-Packages \"true\"\; > /etc/apt/apt.conf.d/01keep
    rm -f /etc/apt/apt.conf.d/docker-clean
    apt-get update -q && apt-get install -y -q make
    t0=\$(date +%s); make deps; echo check-fresh: make deps took \$(( \$(date +%s) - t0 )) s
    t0=\$(date +%s); make all man deb check-deb check-unit lint
    echo check-fresh: make all man deb check-deb check-unit lint took \$(( \$(date +%s) - t0 )) s
    tests/vm/preflight.sh
  "
' check-fresh "$work" "$lower" "$shared" "$CACHE/apt-archives"
echo "check-fresh: PASS: every target passed in a fresh Debian 12 chroot in $(( $(date +%s) - start )) s"
# On a clean checkout the chroot built exactly this tree: its package is the one
# `make check` would build again (the cloud-init VM test installs it).
if [ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
  mkdir -p "$top/build/deb"
  rm -f "$top"/build/deb/dmscale_* "$top"/build/deb/dmscale-dbgsym_*
  cp "$work"/src/dmscale/build/deb/dmscale_* "$top/build/deb/"
  git -C "$top" rev-parse HEAD > "$top/build/deb/fresh-commit"
  echo "check-fresh: kept its package in build/deb/"
fi
if [ -z "$lower" ]; then
  rm -rf --one-file-system "$work/new/src"
  echo "$(basename "$deps")" > "$work/new/.dmscale-stamp"
  mv "$work/new" "$deps"
  echo "check-fresh: cached the state after 'make deps' as $deps"
fi
echo "check-fresh: $(( $(date +%s) - t_start )) s in all"
