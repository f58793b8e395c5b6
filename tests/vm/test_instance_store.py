"""Instance-store NVMe as the pool's first tier (issue 16).

QEMU's nvme device cannot set the controller model, so each test writes a udev
rule in the guest that gives the "instance-store" disks (serials AWSTESTIS...)
the model and vendor of EC2 instance storage, as a real instance's udev
database would show them; the guest image is unchanged. A "stop/start" powers
the VM off, replaces the instance-store images by blank ones (the EBS images
keep their bytes) and powers it on again."""
import json
import os
import time

from ec2bed import daemon_config
from helpers import GIB, ISTORE_RULE, ISTORE_RULE_PATH, MIB, check_payload, nvme_by_serial, status, write_payload

def istore_disks(vm, n, size=GIB):
    return [vm.new_disk(size, volume_id=f"AWSTESTIS{i:011d}") for i in range(n)]


def install_rule(vm):
    vm.write_file(ISTORE_RULE_PATH, ISTORE_RULE)
    vm.sh("udevadm control --reload && udevadm trigger --action=change --subsystem-match=block && "
          "udevadm settle")


def attach_all(vm, disks):
    """The instance's disks, the rule first: each disk is instance storage (or
    not) from its very first udev event, as on a launched instance. A
    hot-plug rather than disks present at power-on: the guest then resumes the
    saved boot instead of booting (vm.Template); the stop/starts below boot
    with their disks present, as EC2 does."""
    install_rule(vm)
    for d in disks:
        vm.hotplug(d)
    for d in disks:
        nvme_by_serial(vm, d.serial, timeout=60)
    vm.sh("udevadm settle")


def boot_with(make_vm, n_istore, ebs_size=GIB):
    """A VM with n instance-store disks and xvdba."""
    vm = make_vm()
    ist = istore_disks(vm, n_istore)
    ebs = vm.new_disk(ebs_size)
    vm.start()
    attach_all(vm, ist + [ebs])
    return vm, ist, ebs


def table(vm):
    return vm.sh("dmsetup table dmscale-scratch").strip().splitlines()


def blank(disk):
    """The instance-store image comes back empty after a stop/start."""
    with open(disk.path, "r+b") as f:
        f.truncate(0)
        f.truncate(disk.size_bytes)


def stop_start(vm, ist):
    attached = [d for d in vm.disks.values() if d.port is not None]
    vm.shutdown()
    for d in ist:
        blank(d)
    vm.start(cold_disks=attached)


def journal_dmscale(vm):
    return vm.sh("journalctl -b -u 'dmscale*' --no-pager -o cat")


def test_stripe_reboot_and_stop_start(make_vm):
    vm, ist, ebs = boot_with(make_vm, 2)
    dev = nvme_by_serial(vm, ebs.serial)
    vm.run(["dmscale", "init", dev], timeout=180)
    t = table(vm)
    assert len(t) == 2, t
    assert t[0].split()[2:5] == ["striped", "2", "512"], t        # 2 disks, 256 KiB chunks
    assert t[1].split()[2] == "linear", t
    st = status(vm)
    assert [m["kind"] for m in st["members"]] == ["instance-store", "instance-store", "ebs"]
    assert [m["striped"] for m in st["members"]] == [True, True, False]
    assert st["members"][2]["volume_id"] == ebs.volume_id
    assert st["stripe"] == {"members": 2, "chunk_bytes": 256 * 1024}
    prom = vm.sh("dmscale status --prometheus")
    assert 'kind="instance-store",striped="1"} 1' in prom
    assert "dmscale_pool_stripe_members{pool=\"scratch\"} 2" in prom
    assert "instance-store (striped)" in vm.sh("dmscale status")
    uuid0 = st["uuid"]
    write_payload(vm)

    # a reboot keeps everything: same pool, same payload
    vm.reboot()
    vm.wait_for("mountpoint -q /var/lib/docker", timeout=120)
    assert check_payload(vm)
    assert status(vm)["uuid"] == uuid0
    assert table(vm)[0].split()[2] == "striped"

    # stop/start: instance storage blank, xvdba keeps its label -> recreated empty
    stop_start(vm, ist)
    vm.wait_for("mountpoint -q /var/lib/docker", timeout=180)
    st = status(vm)
    assert st["uuid"] != uuid0 and st["state"] == "active", st
    assert [m["kind"] for m in st["members"]] == ["instance-store", "instance-store", "ebs"]
    assert st["members"][2]["volume_id"] == ebs.volume_id
    assert st["generation"] == 1
    assert vm.sh("ls -A /var/lib/docker | grep -v lost+found || true").strip() == ""   # empty pool
    log = journal_dmscale(vm)
    assert "DISCARDED" in log and uuid0 in log, log[-3000:]
    assert table(vm)[0].split()[2] == "striped"
    vm.sh("touch /var/lib/docker/after-recreate && sync")

    # scratch_recreate false: the next stop/start is refused, naming the blank disks
    vm.write_file("/etc/dmscale/dmscale.json", json.dumps({"scratch_recreate": False}))
    uuid1 = st["uuid"]
    stop_start(vm, ist)
    vm.wait_for("s=$(systemctl show -p ActiveState --value dmscale-assemble.service); "
                "[ \"$s\" = failed ] || [ \"$s\" = active ]", timeout=180)
    assert vm.run(["mountpoint", "-q", "/var/lib/docker"], check=False)[0] != 0
    log = journal_dmscale(vm)
    assert "scratch_recreate is false" in log, log[-3000:]
    names = [nvme_by_serial(vm, d.serial) for d in ist]
    for n in names:
        assert n in log, (n, log[-3000:])
    rc, out, err = vm.run(["dmscale", "assemble"], check=False, timeout=120)
    assert rc != 0 and "scratch_recreate is false" in err
    # nothing was written: xvdba still carries the previous pool's label
    st = status(vm)
    assert st["uuid"] == uuid1 and st["state"] != "active", st


def test_one_instance_store_disk_no_stripe(make_vm):
    vm, ist, ebs = boot_with(make_vm, 1)
    dev = nvme_by_serial(vm, ebs.serial)
    vm.run(["dmscale", "init", dev], timeout=180)
    t = table(vm)
    assert [x.split()[2] for x in t] == ["linear", "linear"], t
    st = status(vm)
    assert [m["kind"] for m in st["members"]] == ["instance-store", "ebs"]
    assert st["stripe"] is None
    # --instance-store off on another pool: the EBS volume alone
    d2 = vm.new_disk(GIB)
    vm.hotplug(d2)
    dev2 = nvme_by_serial(vm, d2.serial)
    vm.run(["dmscale", "init", "--name", "other", "--mountpoint", "/mnt", "--instance-store", "off", dev2],
           timeout=180)
    st2 = status(vm, "other")
    assert [m["kind"] for m in st2["members"]] == ["ebs"]


LATE_S = 20                 # wide enough for a loaded CI host's hot-plug and guest-agent delays
LATE_RULE = """# test: udev takes %(s)d s over these disks' first event, as over disks still
# being probed when init runs early at boot
ACTION=="add", SUBSYSTEM=="block", KERNEL=="nvme*n*", ENV{DEVTYPE}=="disk", \\
  ATTRS{serial}=="%(serials)s", IMPORT{program}="/bin/sleep %(s)d"
"""


def test_init_waits_for_a_disk_udev_is_still_probing(make_vm):
    """init early at boot, while udev has not yet probed one of the two
    instance-store disks (its kind is not known yet): init waits for udev and
    stripes over both, instead of building a one-disk first tier for the
    pool's life. An EBS volume still being probed at the same time is not
    waited for: the kernel's identify data (its vol serial) says what it is."""
    vm = make_vm()
    ist = istore_disks(vm, 2)
    ebs, ebs2 = vm.new_disk(GIB), vm.new_disk(GIB)
    vm.start()
    vm.write_file("/etc/udev/rules.d/59-test-late.rules",
                  LATE_RULE % {"s": LATE_S, "serials": f"{ist[1].serial}|{ebs2.serial}"})
    attach_all(vm, [ist[0], ebs])            # installs the model rule; reloads both
    dev = nvme_by_serial(vm, ebs.serial)
    n0 = int(vm.sh("ls -d /sys/block/nvme* | wc -l"))
    vm.hotplug(ebs2)                         # the EBS volume first, so init starts inside both windows
    vm.hotplug(ist[1])
    vm.wait_for(f"[ $(ls -d /sys/block/nvme* | wc -l) -ge {n0 + 2} ]", timeout=60)
    rc, out, err = vm.run(["dmscale", "init", dev], timeout=180)
    assert "1 NVMe disk(s) not yet probed by udev: waiting" in err, err   # ist[1], not ebs2
    t = table(vm)
    assert t[0].split()[2:4] == ["striped", "2"], (t, err)
    st = status(vm)
    assert [m["kind"] for m in st["members"]] == ["instance-store", "instance-store", "ebs"], st


def test_daemon_fills_instance_storage_first(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    ist = istore_disks(vm, 2)
    ebs = vm.new_disk(GIB)
    vm.start()
    vm.run(["systemctl", "start", "systemd-networkd"])
    vm.wait_for("ip -4 -o addr show dev eth0 | grep -q 'inet '", timeout=30)
    attach_all(vm, ist + [ebs])
    vm.run(["dmscale", "init", nvme_by_serial(vm, ebs.serial)], timeout=180)
    st = status(vm)
    assert len(st["members"]) == 3
    size0 = st["filesystem"]["size_bytes"]
    assert size0 > int(2.5 * GIB)          # both instance-store disks count as pool space
    # max_volumes 2: the two instance-store members do not count against it
    vm.write_file("/etc/dmscale/dmscale.json",
                  daemon_config(min_free_bytes=256 * MIB, min_free_percent=5, max_volumes=2))
    # more than one EBS volume's worth written, the local disks still have room
    vm.run(["fallocate", "-l", str(1200 * MIB), "/var/lib/docker/a"])
    vm.run(["systemctl", "start", "dmscale-daemon.service"])
    vm.wait_for("journalctl -u dmscale-daemon -o cat | grep -q 'watching /var/lib/docker'", timeout=30)
    time.sleep(5)
    assert "CreateVolume" not in [a for a, _ in sim.calls], "provisioned while instance storage had room"
    # nearly full: now an EBS volume is added
    free = status(vm)["filesystem"]["free_bytes"]
    vm.run(["fallocate", "-l", str(free - 128 * MIB), "/var/lib/docker/b"])
    end = time.monotonic() + 120
    while True:
        st = status(vm)
        if len(st["members"]) >= 4 and not st["pending"]:
            break
        if time.monotonic() > end:
            raise AssertionError("no EBS volume added: " + json.dumps(st) + "\n" + journal_dmscale(vm)[-3000:])
        time.sleep(1)
    assert [m["kind"] for m in st["members"]] == ["instance-store", "instance-store", "ebs", "ebs"]
    assert st["filesystem"]["size_bytes"] > size0
    assert "CreateVolume" in [a for a, _ in sim.calls]
    assert sim.violations == []
    assert os.path.exists(ist[0].path)
