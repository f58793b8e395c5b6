"""Power cuts (SIGKILL of QEMU) at steps of init and attach, recovered by a real
reboot (systemd units, udev coldplug): the pool must assemble at the next boot,
fsck clean, payload intact, and the growth complete.

Every failpoint state is also a cut point of test_powercut.py's flush-boundary
harness (which drops the unflushed cache and recovers the way a boot does, in one
guest). A reboot costs a minute under TCG, so by default this file reboots from
the two states that differ most from a clean pool: labels at two generations
(attach:first-old-labelled) and a reloaded table under an ungrown filesystem
(attach:reloaded). DMSCALE_CRASH_ALL_STEPS=1 reboots from every step."""
import os

from helpers import GIB, check_payload, expect_pending, nvme_by_serial, status, wait_members, \
    write_payload

ALL_STEPS = os.environ.get("DMSCALE_CRASH_ALL_STEPS") == "1"
ATTACH_STEPS = (["attach:new-labelled", "attach:first-old-labelled", "attach:all-labelled",
                 "attach:reloaded", "attach:grown"] if ALL_STEPS else
                ["attach:first-old-labelled", "attach:reloaded"])


def arm(vm, step):
    vm.sh(f"mkdir -p /run/dmscale; rm -f /run/dmscale/failpoint.reached; echo {step} > /run/dmscale/failpoint.arm")


def wait_failpoint(vm, step):
    out = vm.wait_for("cat /run/dmscale/failpoint.reached", timeout=90)
    assert out.strip() == step


def fsck_clean(vm):
    vm.sh("umount /var/lib/docker && e2fsck -fn /dev/mapper/dmscale-scratch && dmscale assemble", timeout=180)


def test_power_cut_during_init(vm):
    d = vm.new_disk(2 * GIB)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    arm(vm, "init:labelled")
    vm.sh(f"setsid -f dmscale init {dev} >/dev/null 2>&1")
    wait_failpoint(vm, "init:labelled")
    vm.power_cut()
    vm.start()
    # the boot unit finishes the interrupted init: activate, mkfs, mount
    vm.wait_for("findmnt /var/lib/docker", timeout=90)
    st = status(vm)
    assert st["state"] == "active" and st["generation"] == 1
    assert st["filesystem"]["type"] == "ext4"
    write_payload(vm)
    fsck_clean(vm)
    assert check_payload(vm)


def test_power_cut_at_attach_steps(vm):
    d0 = vm.new_disk(2 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", nvme_by_serial(vm, d0.serial)])
    d1 = vm.new_disk(2 * GIB)
    expect_pending(vm, d1.volume_id)
    vm.hotplug(d1)
    wait_members(vm, 2)
    write_payload(vm)
    members = 2
    for step in ATTACH_STEPS:
        d = vm.new_disk(2 * GIB)
        arm(vm, step)
        expect_pending(vm, d.volume_id)
        vm.hotplug(d)
        wait_failpoint(vm, step)
        vm.power_cut()
        vm.start()
        members += 1
        st = wait_members(vm, members, timeout=120)
        assert st["members"][-1]["volume_id"] == d.volume_id, step
        assert st["generation"] == members, step
        # growth completed: the filesystem's block count spans the whole target
        hdr = vm.sh("dumpe2fs -h /dev/mapper/dmscale-scratch 2>/dev/null")
        fields = dict(l.split(":", 1) for l in hdr.splitlines() if ":" in l)
        fs_bytes = int(fields["Block count"]) * int(fields["Block size"])
        assert fs_bytes == st["size_bytes"], (step, fs_bytes, st["size_bytes"])
        assert check_payload(vm), step
        fsck_clean(vm)
        assert check_payload(vm), step
