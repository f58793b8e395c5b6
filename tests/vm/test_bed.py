"""The test bed itself, end to end with plain dmsetup (no dmscale code):
boot, dm-linear over two hot-plugged NVMe disks, mkfs, mount, hot-plug a third,
reload, grow online, payload intact, power cut, boot again, disks still there."""
import time

import pytest

from helpers import nvme_by_serial

GIB = 1 << 30
SECTORS_PER_GIB = GIB // 512


def test_boot_and_kernel(make_vm):
    vm = make_vm(warm=False)        # a real boot, not the session's saved one
    vm.start()
    assert vm.boot_seconds < 120
    out = vm.sh("uname -r; cat /proc/cmdline; modprobe dm_mod && ls /dev/mapper/control; "
                "systemctl is-system-running --wait || true")
    assert "cloud-amd64" in out
    assert "/dev/mapper/control" in out
    # the root disk is NVMe, like an EC2 root volume
    assert "nvme0n1" in vm.sh("findmnt -n -o SOURCE /")


def test_resumed_guests_are_their_own(make_vm):
    """Guests resumed from the session's saved boot (vm.Template) must not
    share what the snapshot froze: the clock is the host's, the random
    generator is reseeded (two guests would otherwise draw the same pool
    uuids), and the root filesystem is writable (it was saved frozen)."""
    a, b = make_vm(), make_vm()
    if a.template is None:
        pytest.skip("DMSCALE_VM_WARM=0: every guest boots")
    for v in (a, b):
        v.start()
    draw = "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo; cat /proc/sys/kernel/random/uuid"
    ra, rb = a.sh(draw), b.sh(draw)
    assert ra != rb, (ra, rb)
    for v in (a, b):
        assert abs(float(v.sh("date +%s.%N")) - time.time()) < 30
        v.sh("echo ok > /root/written && sync")
        assert "vda" in v.sh("findmnt -n -o SOURCE /")
    # a reboot is a real boot, with the NVMe root of an EC2 instance
    a.reboot(boot_timeout=300)
    assert "nvme0n1" in a.sh("findmnt -n -o SOURCE /")
    assert a.sh("cat /root/written").strip() == "ok"


def test_hotplug_serial_like_ebs(vm):
    d = vm.new_disk(2 * GIB)
    t0 = time.monotonic()
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    seen = time.monotonic() - t0
    print(f"hot-plugged namespace visible after {seen:.2f}s as {dev}")
    assert d.serial.startswith("vol0") and len(d.serial) == 20
    # udev exposes the serial, from which dmscale derives the volume id (once
    # udev has handled the add event: the node itself comes from devtmpfs first)
    props = vm.sh(f"udevadm settle; udevadm info --query=property --name={dev}")
    assert f"ID_SERIAL_SHORT={d.serial}" in props
    size = int(vm.sh(f"blockdev --getsize64 {dev}"))
    assert size == 2 * GIB
    vm.hotunplug(d)
    vm.wait_for(f"! test -b {dev}", timeout=15)


def test_dm_linear_grow_online_power_cut(vm):
    disks = [vm.new_disk(2 * GIB) for _ in range(3)]
    for d in disks[:2]:
        vm.hotplug(d)
    devs = [nvme_by_serial(vm, d.serial) for d in disks[:2]]
    table = "".join(f"{i * 2 * SECTORS_PER_GIB} {2 * SECTORS_PER_GIB} linear {dev} 0\\n"
                    for i, dev in enumerate(devs))
    vm.sh(f"modprobe dm_mod; printf '{table}' | dmsetup create bed; "
          "mkfs.ext4 -q /dev/mapper/bed; mkdir -p /mnt/bed; mount /dev/mapper/bed /mnt/bed; "
          "head -c 64M /dev/urandom > /mnt/bed/payload; sha256sum /mnt/bed/payload > /root/sum; sync")
    size_before = int(vm.sh("df -B1 --output=size /mnt/bed | tail -1"))
    vm.hotplug(disks[2])
    dev3 = nvme_by_serial(vm, disks[2].serial)
    devs.append(dev3)
    table = "".join(f"{i * 2 * SECTORS_PER_GIB} {2 * SECTORS_PER_GIB} linear {dev} 0\\n"
                    for i, dev in enumerate(devs))
    vm.sh(f"printf '{table}' | dmsetup reload bed; dmsetup resume bed; resize2fs /dev/mapper/bed")
    size_after = int(vm.sh("df -B1 --output=size /mnt/bed | tail -1"))
    assert size_after > size_before + GIB
    assert "OK" in vm.sh("findmnt /mnt/bed >/dev/null && sha256sum -c /root/sum")
    vm.sh("head -c 8M /dev/urandom > /mnt/bed/after; sync")
    # power cut, boot again on the same disks
    vm.power_cut()
    vm.start()
    for d in disks:
        nvme_by_serial(vm, d.serial)
    assert vm.sh("lsblk -dn -o SERIAL | grep -c '^vol'").strip() == "3"
