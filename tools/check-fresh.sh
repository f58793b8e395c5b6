#!/bin/bash
# make check-fresh: prove that a fresh Debian 12 machine can build, package and
# unit-test dmscale from the committed tree with nothing but `make deps`.
# A minimal chroot (mmdebstrap minbase, this host's apt sources, nothing else)
# gets `git archive HEAD` and runs, as a new user would:
#   apt-get update && apt-get install -y make && make deps &&
#   make all man deb check-deb check-unit lint && tests/vm/preflight.sh
# Caches, outside the clone ($DMSCALE_CACHE, default /var/cache/dmscale/fresh):
# - the minbase tarball, keyed by the host's apt sources;
# - the chroot as `make deps` left it, keyed by everything that decides what
#   `make deps` installs (tools/deps.sh, debian/control, the npm lock, this
#   script). Any change to those starts again from minbase; otherwise the run
#   starts from that state, where `make deps` must be a fast no-op, so what is
#   tested is still exactly what `make deps` installed on a fresh machine.
# - downloaded .debs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
CACHE=${DMSCALE_CACHE:-/var/cache/dmscale}/fresh
shared=$(cd "$top/../shared" 2>/dev/null && pwd) || {
  echo "check-fresh: ../shared (beside the project root) is missing; the unit tests read it" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "check-fresh: mmdebstrap is missing: run 'make deps'" >&2; exit 1; }

sources_txt=$("$here/apt-sources.sh")
recipe=$( (echo v1; printf '%s\n' "$sources_txt") | sha256sum | cut -c1-16)
base=$CACHE/base-$recipe.tar
mkdir -p "$CACHE/apt-archives/partial"
if [ ! -s "$base" ] || ! tar -tf "$base" ./etc/debian_version >/dev/null 2>&1; then
  echo "check-fresh: building the minimal Debian 12 base ($recipe)"
  rm -f "$CACHE"/base-*.tar
  mapfile -t sources <<< "$sources_txt"
  mmdebstrap --variant=minbase --mode=root --format=tar bookworm "$base.tmp" "${sources[@]}"
  mv "$base.tmp" "$base"
fi

depkey=$( (echo "$recipe"; cat "$here/deps.sh" "$top/debian/control" "$top/tests/aws-js/package-lock.json" "$0") \
          | sha256sum | cut -c1-16)
depstar=$CACHE/deps-$depkey.tar
root=$(mktemp -d /var/tmp/dmscale-fresh.XXXXXX)
cleanup() { rm -rf --one-file-system "$root"; }
trap cleanup EXIT
if [ -s "$depstar" ]; then
  echo "check-fresh: starting from the cached state after 'make deps' ($depkey)"
  tar -xf "$depstar" -C "$root"
else
  echo "check-fresh: starting from minbase ($recipe); 'make deps' installs everything"
  tar -xf "$base" -C "$root"
fi
# The workplace's own TLS trust (a fresh machine here has it too): the npm
# registry is reached through it. Not a project dependency.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
mkdir -p "$root/src/dmscale" "$root/src/shared"
git -C "$top" archive HEAD | tar -x -C "$root/src/dmscale"
echo "check-fresh: $(git -C "$top" rev-parse --short HEAD) in a fresh chroot ($root)"
[ -n "$(git -C "$top" status --porcelain)" ] && echo "check-fresh: note: uncommitted changes are NOT tested (git archive HEAD)"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# A private mount namespace: every mount below goes away with it.
start=$(date +%s)
unshare --mount --propagation private /bin/bash -euo pipefail -c '
  root=$1 shared=$2 archives=$3
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
  mount --bind -o ro "$shared" "$root/src/shared"
  mount --bind "$archives" "$root/var/cache/apt/archives"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt /bin/bash -euo pipefail -c "
    cd /src/dmscale
    # Keep downloaded .debs in the bind-mounted cache for the next run.
    echo Binary::apt::APT::Keep-Downloaded-Packages \"true\"\; > /etc/apt/apt.conf.d/01keep
    rm -f /etc/apt/apt.conf.d/docker-clean
    apt-get update -q && apt-get install -y -q make
    t0=\$(date +%s); make deps; echo check-fresh: make deps took \$(( \$(date +%s) - t0 )) s
    make all man deb check-deb check-unit lint
    tests/vm/preflight.sh
  "
' check-fresh "$root" "$shared" "$CACHE/apt-archives"
if [ ! -s "$depstar" ]; then
  rm -f "$CACHE"/deps-*.tar
  tar -C "$root" --exclude=./src --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -cf "$depstar.tmp" .
  mv "$depstar.tmp" "$depstar"
  echo "check-fresh: cached the state after 'make deps' ($(du -h "$depstar" | cut -f1))"
fi
echo "check-fresh: PASS: every target passed in a fresh Debian 12 chroot in $(( $(date +%s) - start )) s"
