"""dm-thin mode on the VM test bed: init, udev attach (data + pool reload),
stall instead of ENOSPC, reclaim by discard, power cuts, metadata growth,
needs_check reporting."""
import json
import time

import pytest

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
        time.sleep(0.3)


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

    # reboot: assembled by the shipped unit, same data, thin_check clean when inactive
    vm.reboot()
    st = status(vm)
    assert st["state"] == "active" and st["target"] == "thin" and len(st["members"]) == 2, st
    assert check_payload(vm)
    vm.sh("umount /var/lib/docker && dmsetup remove dmscale-scratch && dmsetup remove dmscale-scratch-tpool")
    vm.sh("thin_check /dev/mapper/dmscale-scratch-tmeta")
    vm.run(["dmscale", "assemble"], timeout=120)
    assert check_payload(vm)
