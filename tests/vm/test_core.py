"""dmscale core on the VM test bed: init, udev-driven attach, reboot, status."""
import json

import pytest

from helpers import GIB, attach_latencies, check_payload, record_result, expect_pending, mount_id, nvme_by_serial, status, \
    wait_members, write_payload


def init_pool(vm, fs="ext4", size=2 * GIB):
    d = vm.new_disk(size)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    vm.run(["dmscale", "init", "--fs", fs, dev], timeout=120)
    return d, dev


@pytest.mark.parametrize("fs", ["ext4", "xfs", "btrfs"])
def test_init_then_udev_attach_one_then_three(vm, fs):
    d0, dev0 = init_pool(vm, fs)
    st = status(vm)
    assert st["state"] == "active" and st["target"] == "linear"
    assert st["filesystem"]["type"] == fs and st["mountpoint"] == "/var/lib/docker"
    assert st["members"][0]["volume_id"] == d0.volume_id
    assert st["members"][0]["data_offset_bytes"] == 1 << 20
    write_payload(vm)
    mid = mount_id(vm)
    size0 = st["filesystem"]["size_bytes"]

    # one volume the daemon expects, appended by the shipped udev rule + unit
    d1 = vm.new_disk(2 * GIB)
    expect_pending(vm, d1.volume_id)
    assert status(vm)["pending"] == [d1.volume_id]
    vm.hotplug(d1)
    st = wait_members(vm, 2)
    assert st["members"][1]["volume_id"] == d1.volume_id
    assert st["filesystem"]["size_bytes"] > size0 + GIB
    assert st["generation"] == 2

    # three at once
    more = [vm.new_disk(2 * GIB) for _ in range(3)]
    for d in more:
        expect_pending(vm, d.volume_id)
    for d in more:
        vm.hotplug(d)
    st = wait_members(vm, 5)
    assert sorted(m["volume_id"] for m in st["members"][2:]) == sorted(d.volume_id for d in more)
    assert st["size_bytes"] == sum(m["data_bytes"] for m in st["members"])
    assert st["filesystem"]["size_bytes"] > size0 + 7 * GIB
    assert check_payload(vm)
    assert mount_id(vm) == mid, "the filesystem was unmounted"
    # each appended exactly once
    table = vm.sh("dmsetup table dmscale-scratch")
    assert len(table.strip().splitlines()) == 5
    log = vm.sh("journalctl -b --no-pager -o cat | grep -c 'labelled as member' || true")
    assert int(log) == 5
    lat = attach_latencies(vm)
    assert len(lat) == 4, lat   # the 4 attaches (init is not an attach)
    record_result(f"attach_latency_s[{fs}]", lat)


def test_reboot_with_shuffled_nvme_order(vm):
    d0, _ = init_pool(vm)
    disks = [vm.new_disk(2 * GIB) for _ in range(3)]
    for d in disks:
        expect_pending(vm, d.volume_id)
        vm.hotplug(d)
    wait_members(vm, 4)
    write_payload(vm)
    before = status(vm)
    for seed in (1, 2):
        vm.reboot(shuffle_seed=seed)
        vm.wait_for("findmnt /var/lib/docker", timeout=60)
        st = status(vm)
        assert st["uuid"] == before["uuid"] and st["generation"] == before["generation"]
        assert [m["volume_id"] for m in st["members"]] == [m["volume_id"] for m in before["members"]]
        assert st["filesystem"]["size_bytes"] == before["filesystem"]["size_bytes"]
        assert check_payload(vm)


def test_init_twice_is_harmless_and_cli(vm):
    d0, dev0 = init_pool(vm)
    write_payload(vm)
    rc, out, err = vm.run(["dmscale", "init", dev0], check=False)
    assert rc == 0, err
    assert "already member 0 of pool scratch" in err
    assert check_payload(vm)
    assert vm.run(["dmscale", "--version"])[1].startswith("dmscale ")
    for cmd in ("init", "attach", "assemble", "status"):
        rc, out, _ = vm.run(["dmscale", cmd, "--help"], check=False)
        assert rc == 0 and "usage: dmscale" in out
    # human status and unprivileged status
    assert "pool        scratch (linear, active)" in vm.sh("dmscale status")
    rc, out, err = vm.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "dmscale", "status", "--json"], check=False)
    assert rc == 0, err
    st = json.loads(out)
    assert st["state"] == "active" and st["members"][0]["volume_id"] == d0.volume_id
    assert "not root" in st["note"]
    # an operator's attach of a blank disk (no pending entry needed), then again
    d1 = vm.new_disk(2 * GIB)
    vm.hotplug(d1)
    dev1 = nvme_by_serial(vm, d1.serial)
    vm.wait_for("systemctl list-units 'dmscale-attach@*' --all --state=activating --no-legend "
                "| grep -q . && exit 1 || exit 0", timeout=30)
    assert len(status(vm)["members"]) == 1          # udev alone did not claim it
    vm.run(["dmscale", "attach", dev1])
    st = status(vm)
    assert [m["volume_id"] for m in st["members"]] == [d0.volume_id, d1.volume_id]
    rc, _, err = vm.run(["dmscale", "attach", dev1], check=False)
    assert rc == 0 and "carries a label of pool scratch (member 1" in err
    assert status(vm)["generation"] == st["generation"]
    assert check_payload(vm)
