"""The attach path of issue 14 on the VM test bed: one step line per append,
no udev change storm on the old members, the filesystem never frozen for a
linear append, and the same result when the live view is not enough."""
import re

from helpers import GIB, check_payload, expect_pending, mount_id, nvme_by_serial, wait_members, write_payload

STEP_LINE = re.compile(r"attach (/dev/\S+): pool scratch member (\d+) of (\d+) steps:((?: [a-z_]+_ms=[0-9.]+)+)")


def grow_to(vm, n, have):
    for k in range(have, n):
        d = vm.new_disk(2 * GIB)
        expect_pending(vm, d.volume_id)
        vm.hotplug(d)
        wait_members(vm, k + 1)


def test_append_is_quiet_timed_and_unfrozen(vm):
    d0 = vm.new_disk(2 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", nvme_by_serial(vm, d0.serial)], timeout=120)
    grow_to(vm, 3, 1)
    write_payload(vm)
    mid = mount_id(vm)
    old = vm.sh("dmsetup deps -o devname dmscale-scratch").split(":", 1)[1]
    old = re.findall(r"\((\w+)\)", old)
    assert len(old) == 3, old
    # every udev event on block devices while the 4th member is appended; and
    # whether the filesystem was frozen (ext4 counts freezes nowhere, so trace
    # the kernel's freeze_super through the dm resume's lockfs)
    vm.sh("rm -f /run/udevmon.txt; (udevadm monitor --udev --subsystem-match=block > /run/udevmon.txt 2>&1 &) ; "
          "sleep 1")
    vm.sh("T=/sys/kernel/tracing; [ -d $T/events ] || mount -t tracefs none $T; "
          "echo freeze_super > $T/set_ftrace_filter && echo function > $T/current_tracer && echo 1 > $T/tracing_on",
          check=False)
    d = vm.new_disk(2 * GIB)
    expect_pending(vm, d.volume_id)
    vm.hotplug(d)
    st = wait_members(vm, 4)
    trace = vm.sh("T=/sys/kernel/tracing; cat $T/trace 2>/dev/null; echo 0 > $T/tracing_on; "
                  "echo nop > $T/current_tracer", check=False)[1]
    vm.sh("sleep 1; pkill -x udevadm || true")
    events = vm.sh("cat /run/udevmon.txt")
    for name in old:
        changes = [ln for ln in events.splitlines() if " change " in ln and ln.rstrip().endswith("/" + name)]
        assert not changes, (name, changes)
    if "freeze_super" in vm.sh("cat /sys/kernel/tracing/available_filter_functions 2>/dev/null | "
                               "grep -x freeze_super || true"):
        hits = [ln for ln in trace.splitlines() if not ln.startswith("#") and "freeze_super" in ln]
        assert not hits, hits
    # one step line for the append, with every step
    log = vm.sh("journalctl -b -u 'dmscale-attach@*' --no-pager -o cat")
    lines = STEP_LINE.findall(log)
    assert [(m, n) for _, m, n, _ in lines] == [("2", "2"), ("3", "3"), ("4", "4")], lines
    keys = [kv.split("=")[0] for kv in lines[-1][3].split()]
    assert keys == [k + "_ms" for k in ("lock", "read", "check", "write_new", "write_old_a", "write_old_b", "load",
                                        "resume", "resize", "udev", "unpend", "other", "total")], keys
    assert st["generation"] == 4
    assert check_payload(vm)
    assert mount_id(vm) == mid


def test_interrupted_append_marker_reads_every_disk(vm):
    """An append left half-done (its marker under /run) makes the next attach
    read every disk: it finishes the interrupted generation first."""
    d0 = vm.new_disk(2 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", nvme_by_serial(vm, d0.serial)], timeout=120)
    grow_to(vm, 2, 1)
    vm.sh("touch /run/dmscale/scratch.appending")
    grow_to(vm, 3, 2)
    assert vm.run(["test", "-e", "/run/dmscale/scratch.appending"], check=False)[0] != 0
