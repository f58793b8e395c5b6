#!/bin/bash
# make check: every stage, each timed into $B/check-times.txt, the independent
# ones at once so the whole run stays within CI's 25 minutes (issue 11).
#
# Three lanes first, side by side (each stage's output goes to $B/logs/STAGE.log;
# its last lines are printed when it passes, its last 100 when it fails):
#   fresh:  check-fresh (the committed tree in a fresh Debian 12 chroot: mostly
#           apt downloads and dpkg, then one compile)
#   vm:     vm-prep (the guest rootfs, the TESTING build, the installed image
#           and the saved booted guest that every VM test worker resumes)
#   unit:   check-unit-san, check-valgrind, check-fuzz
# Then check-vm, over what vm-prep built: on a clean tree as soon as vm-prep
# and the unit lane are done, beside the rest of check-fresh (which ran
# check-unit, lint and check-deb on HEAD, this very tree); with uncommitted
# changes, after check-fresh and after check-unit, lint and check-deb run here.
# Any failed stage fails the run.
# Tried and dropped (issue 11): the sanitised and valgrind runs beside the VM
# tests at nice 19 in an autogroup of their own, to fill the cores the guests
# leave idle. The guests then used 17 % more host CPU for the same tests (2434
# against 2078 s; TCG and valgrind contend for the caches whatever the
# priority), and the run took 1528 s against 1324 s with these lanes.
set -uo pipefail
# usage: tools/check.sh BUILDDIR MAKE (from `make check`; BUILDDIR is not exported:
# the stages' own makes choose theirs, build-testing/ for TESTING=1)
B=${1:-build}
MAKE=${2:-make}
logs=$B/logs
times=$B/check-times.txt
mkdir -p "$logs" "$B/vm"
: > "$times"
all0=$(date +%s)
prep=$PWD/$B/vm/prep.check
trap 'rm -rf "$prep"' EXIT

# stage NAME [make args...]: run `make NAME`, log it, time it; returns its status
stage() {
  local s=$1 t0 rc
  shift
  t0=$(date +%s)
  "$MAKE" --no-print-directory "$s" "$@" > "$logs/$s.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    { echo "check: $s passed in $(( $(date +%s) - t0 )) s (log: $logs/$s.log)"
      tail -n 12 "$logs/$s.log" | sed "s/^/  $s| /"; } | tee -a "$times"
  else
    { echo "check: $s FAILED after $(( $(date +%s) - t0 )) s (log: $logs/$s.log); its last lines:"
      tail -n 100 "$logs/$s.log" | sed "s/^/  $s| /"; } | tee -a "$times"
  fi
  return $rc
}

lane_unit() { stage check-unit-san && stage check-valgrind && stage check-fuzz; }

fail() { echo "check: FAILED after $(( $(date +%s) - all0 )) s" | tee -a "$times"; exit 1; }

# check-vm streams its output (its pytest log is the one to read as it runs)
run_vm() {
  local t0 rc
  set -o pipefail       # also in the setsid shell below: the status is make's, not tee's
  t0=$(date +%s)
  "$MAKE" --no-print-directory check-vm VM_PREPARED="$prep" 2>&1 | tee "$logs/check-vm.log"
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "check: check-vm passed in $(( $(date +%s) - t0 )) s" | tee -a "$times"
  else
    echo "check: check-vm FAILED after $(( $(date +%s) - t0 )) s" | tee -a "$times"
  fi
  return $rc
}

clean=
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || clean=1
# check-fresh writes this when it has copied its package to $B/deb (clean tree only)
rm -f "$B/deb/fresh-commit"

stage check-fresh & fresh=$!
stage vm-prep VM_PREP_DIR="$prep" & vm=$!
lane_unit & unit=$!
bad=0
wait $vm || bad=1
wait $unit || bad=1
if [ $bad -ne 0 ]; then
  wait $fresh
  fail
fi

if [ -n "$clean" ]; then
  # The VM tests start as soon as their guest is ready, beside the rest of
  # check-fresh (its apt and dpkg phases leave CPU unused). The cloud-init test
  # installs check-fresh's package (built from this very commit) and waits for
  # it ($DMSCALE_DEB_READY); should check-fresh fail, the VM tests are stopped.
  export DMSCALE_DEB_READY=$PWD/$B/deb/fresh-commit
  setsid bash -c "$(declare -f run_vm); $(declare -p MAKE prep logs times); run_vm" & vmtests=$!
  if ! wait $fresh; then
    # TERM the VM tests' session more than once: check-fresh may have failed
    # before they started, and a signal sent then reaches only their shell,
    # which defers it until its foreground make exits (seen: the whole VM
    # stage went on running after check-fresh had failed)
    for sig in TERM TERM TERM KILL; do
      kill -$sig -- -$vmtests 2>/dev/null || break
      sleep 2
    done
    wait $vmtests
    fail
  fi
  echo "check: check-unit, lint and check-deb passed inside check-fresh (same commit, clean tree)" | tee -a "$times"
  wait $vmtests || fail
else
  wait $fresh || fail
  for s in check-unit lint check-deb; do stage "$s" || fail; done
  run_vm || fail
fi
echo "check: all stages passed in $(( $(date +%s) - all0 )) s" | tee -a "$times"
