#!/bin/bash
# Preflight of the VM test bed: every host command in host-tools.txt must be
# present. Names the package of each missing one; exits 1 if any is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/usr/bin/python3}
missing=0
while read -r cmd pkg; do
  case "$cmd" in ''|'#'*) continue ;; esac
  if [ "${cmd#py:}" != "$cmd" ]; then
    "$PY" -c "import ${cmd#py:}" 2>/dev/null && continue
    echo "preflight: python3 module ${cmd#py:} is missing: install package $pkg (make deps)" >&2
  else
    command -v "$cmd" >/dev/null 2>&1 && continue
    echo "preflight: command $cmd is missing: install package $pkg (make deps)" >&2
  fi
  missing=$((missing + 1))
done < "$here/host-tools.txt"
if [ $missing -gt 0 ]; then
  echo "preflight: $missing host tool(s) missing; the VM tests cannot run" >&2
  exit 1
fi
echo "preflight: all host tools of the VM tests are present"
