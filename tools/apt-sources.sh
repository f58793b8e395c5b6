#!/bin/bash
# Print this host's own Debian 12 apt sources as one-line "deb URI SUITE main"
# entries (for mmdebstrap). No mirror is ever named in the tree: if the host
# has no bookworm source, say so and fail.
set -euo pipefail
uri() { apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' "Codename: $1" 2>/dev/null | head -1; }
main=$(uri bookworm)
if [ -z "$main" ]; then
  echo "apt-sources: no Debian 12 (bookworm) apt source found on this host." >&2
  echo "apt-sources: add one to /etc/apt/sources.list(.d), run 'apt-get update', and retry." >&2
  exit 1
fi
echo "deb $main bookworm main"
updates=$(uri bookworm-updates); [ -n "$updates" ] && echo "deb $updates bookworm-updates main"
security=$(uri bookworm-security); [ -n "$security" ] && echo "deb $security bookworm-security main"
exit 0
