"""dm-thin mode on the VM test bed: init, udev attach (data + pool reload),
stall instead of ENOSPC, reclaim by discard, power cuts, metadata growth,
needs_check reporting."""
import json
import os
import time

import pytest

from vm import backoff
from helpers import GIB, MIB, check_payload, expect_pending, mount_id, nvme_by_serial, status, \
    wait_members, write_payload

VIRT = "64G"


def init_thin(vm, fs="ext4", size=2 * GIB, extra=()):
    d = vm.new_disk(size)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    vm.run(["dmscale", "init", "--target", "thin", "--virtual-size", VIRT, "--fs", fs, *extra, dev],
           timeout=180)
    return d, dev


def wait_thin_members(vm, n, timeout=90):
    end = time.monotonic() + timeout
    pause = backoff(0.3)
    while True:
        st = status(vm)
        busy = vm.sh("systemctl list-units 'dmscale-attach@*' --all --state=activating,deactivating "
                     "--no-legend --plain")
        if len(st["members"]) == n and st["state"] == "active" and not busy.strip() and \
                not st["pending"] and st["pool"] and \
                st["pool"]["data_total_bytes"] == sum(m["data_bytes"] for m in st["members"]) // (512 << 10) * (512 << 10):
            return st
        if time.monotonic() > end:
            raise AssertionError(f"thin pool did not reach {n} members: {st}\n" +
                                 vm.sh("journalctl -b -u 'dmscale*' --no-pager | tail -50"))
        time.sleep(next(pause))


@pytest.mark.parametrize("fs", ["ext4", "xfs"])
def test_thin_init_attach(vm, fs):
    d0, dev0 = init_thin(vm, fs)
    st = status(vm)
    assert st["target"] == "thin" and st["state"] == "active", st
    assert st["filesystem"]["type"] == fs
    assert st["filesystem"]["size_bytes"] > 60 * GIB            # the virtual size
    p = st["pool"]
    assert p["mode"] == "rw" and not p["needs_check"]
    assert p["virtual_bytes"] == 64 * GIB
    assert 0 < p["data_total_bytes"] < 2 * GIB
    assert 0 < p["metadata_total_bytes"] and p["metadata_used_bytes"] < p["metadata_total_bytes"]
    assert p["low_water_mark_bytes"] > 0
    write_payload(vm, mib=64)
    mid = mount_id(vm)
    fs_size = st["filesystem"]["size_bytes"]
    assert "discard" in vm.sh("findmnt -no OPTIONS /var/lib/docker")

    d1 = vm.new_disk(2 * GIB)
    expect_pending(vm, d1.volume_id)
    vm.hotplug(d1)
    st = wait_thin_members(vm, 2)
    assert st["generation"] == 2
    assert st["pool"]["data_total_bytes"] > 3 * GIB
    assert st["filesystem"]["size_bytes"] == fs_size, "a thin volume's filesystem never resizes"
    assert mount_id(vm) == mid
    assert check_payload(vm)
    tables = vm.sh("dmsetup table")
    assert "thin-pool" in tables and " thin " in tables
    assert len(vm.sh("dmsetup table dmscale-scratch-tdata").strip().splitlines()) == 2

    if fs != "ext4":
        return
    # reboot: assembled by the shipped unit, same data, thin_check clean when inactive
    vm.reboot()
    st = status(vm)
    assert st["state"] == "active" and st["target"] == "thin" and len(st["members"]) == 2, st
    assert check_payload(vm)
    vm.sh("umount /var/lib/docker && dmsetup remove dmscale-scratch && dmsetup remove dmscale-scratch-tpool")
    vm.sh("thin_check /dev/mapper/dmscale-scratch-tmeta")
    vm.run(["dmscale", "assemble"], timeout=120)
    assert check_payload(vm)


# A real reboot from each step costs a minute under TCG; test_powercut.py's
# attach-thin scenario cuts at every flush of the same append. By default: labels
# at two generations, and the pool's data reloaded under an unchanged thin table.
THIN_ATTACH_STEPS = (["attach:new-labelled", "attach:first-old-labelled", "attach:all-labelled",
                      "attach:data-reloaded", "attach:reloaded"]
                     if os.environ.get("DMSCALE_CRASH_ALL_STEPS") == "1" else
                     ["attach:first-old-labelled", "attach:data-reloaded"])


def arm(vm, step):
    vm.sh(f"mkdir -p /run/dmscale; rm -f /run/dmscale/failpoint.reached; echo {step} > /run/dmscale/failpoint.arm")


def check_clean(vm):
    """fsck the thin volume, thin_check the pool's metadata (inactive), reassemble."""
    vm.sh("umount /var/lib/docker && e2fsck -fn /dev/mapper/dmscale-scratch "
          "&& dmsetup remove dmscale-scratch && dmsetup remove dmscale-scratch-tpool "
          "&& thin_check /dev/mapper/dmscale-scratch-tmeta && dmscale assemble", timeout=180)


def test_thin_power_cut_at_attach_steps(vm):
    init_thin(vm, "ext4", 2 * GIB)
    write_payload(vm, mib=48)
    members = 1
    for step in THIN_ATTACH_STEPS:
        d = vm.new_disk(2 * GIB)
        arm(vm, step)
        expect_pending(vm, d.volume_id)
        vm.hotplug(d)
        out = vm.wait_for("cat /run/dmscale/failpoint.reached", timeout=90)
        assert out.strip() == step
        vm.power_cut()
        vm.start()
        members += 1
        st = wait_thin_members(vm, members, timeout=120)
        assert st["members"][-1]["volume_id"] == d.volume_id, step
        assert st["generation"] == members, step
        assert st["pool"]["mode"] == "rw" and not st["pool"]["needs_check"], step
        assert check_payload(vm), step
        check_clean(vm)
        assert check_payload(vm), step


# 0x4000 sectors = 8 MiB from the metadata area: the superblock is block 0.
SET_NEEDS_CHECK = r"""
import struct, sys
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c_raw(data, crc=0xFFFFFFFF):
    for b in data:
        crc = T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc
with open(sys.argv[1], "r+b", buffering=0) as f:
    sb = bytearray(f.read(4096))
    flags = struct.unpack_from("<I", sb, 4)[0] | 1          # THIN_METADATA_NEEDS_CHECK_FLAG
    struct.pack_into("<I", sb, 4, flags)
    csum = crc32c_raw(bytes(sb[4:])) ^ 160774               # SUPERBLOCK_CSUM_XOR
    struct.pack_into("<I", sb, 0, csum)
    f.seek(0)
    f.write(sb)
"""


def test_thin_metadata_growth_and_needs_check(vm):
    # a big (sparse) first member, then a much bigger one: the metadata device
    # must grow with the pool (rule: 64 bytes per 512 KiB block for 4x the data)
    init_thin(vm, "ext4", 64 * GIB)
    write_payload(vm, mib=32)
    st = status(vm)
    meta0 = st["pool"]["metadata_total_bytes"]
    d1 = vm.new_disk(400 * GIB)
    expect_pending(vm, d1.volume_id)
    vm.hotplug(d1)
    st = wait_thin_members(vm, 2, timeout=120)
    assert st["pool"]["metadata_total_bytes"] > meta0, (meta0, st["pool"])
    assert "thin metadata device grown" in vm.sh("journalctl -b -o cat | grep 'metadata device grown' || true")
    assert check_payload(vm)
    check_clean(vm)

    # needs_check set in the metadata (as the kernel does after a metadata I/O
    # error): assemble must refuse read-write activation and say how to repair
    vm.sh("umount /var/lib/docker && dmsetup remove dmscale-scratch && dmsetup remove dmscale-scratch-tpool")
    vm.run(["python3", "-c", SET_NEEDS_CHECK, "/dev/mapper/dmscale-scratch-tmeta"])
    rc, out, err = vm.run(["dmscale", "assemble"], timeout=120, check=False)
    assert rc != 0
    assert "degraded" in err and "thin_check" in err and "needs_check" in err, err
    assert not vm.sh("findmnt -n /var/lib/docker || true").strip(), "mounted a pool flagged needs_check"
    st = status(vm)
    assert st["state"] == "degraded" and st["pool"]["needs_check"] is True, st
    assert st["pool"]["mode"] in ("ro", "fail"), st
    assert "Not mounted" in vm.sh("dmscale status") or "not mounted" in vm.sh("dmscale status")
    # the documented repair
    vm.sh("dmsetup remove dmscale-scratch-tpool && thin_check /dev/mapper/dmscale-scratch-tmeta "
          "&& thin_check --clear-needs-check-flag /dev/mapper/dmscale-scratch-tmeta")
    vm.run(["dmscale", "assemble"], timeout=120)
    st = status(vm)
    assert st["state"] == "active" and st["pool"]["mode"] == "rw" and not st["pool"]["needs_check"]
    assert check_payload(vm)
