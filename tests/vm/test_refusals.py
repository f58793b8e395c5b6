"""Bad input gets a clear error and nothing is touched (device checksums
compared on the host), and a missing member stops activation."""
import os

from helpers import GIB, MIB, check_payload, expect_pending, nvme_by_serial, status, \
    wait_members, write_payload


def test_refusals_leave_devices_untouched(vm):
    d0 = vm.new_disk(2 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", nvme_by_serial(vm, d0.serial)])

    fsdisk, ptdisk, otherdisk, small, stranger = (vm.new_disk(2 * GIB), vm.new_disk(2 * GIB),
                                                  vm.new_disk(2 * GIB), vm.new_disk(512 * MIB),
                                                  vm.new_disk(2 * GIB))
    for d in (fsdisk, ptdisk, otherdisk, small):
        vm.hotplug(d)
    fsdev, ptdev, otherdev, smalldev = (nvme_by_serial(vm, d.serial)
                                        for d in (fsdisk, ptdisk, otherdisk, small))
    mbr = ("import struct,sys; m=bytearray(512); "
           "m[446:462]=struct.pack('<B3sB3sII',0,bytes(3),0x83,bytes(3),2048,100000); "
           "m[510:512]=bytes([0x55,0xaa]); f=open(sys.argv[1],'r+b'); f.write(m); f.close()")
    vm.run(["python3", "-c", mbr, ptdev])
    vm.sh(f"mkfs.ext4 -q {fsdev}; "
          f"dmscale init --name other --mountpoint /mnt/other {otherdev}; umount /mnt/other; "
          "dmsetup remove dmscale-other; sync")
    sums = {d.volume_id: d.sha256() for d in (fsdisk, ptdisk, otherdisk, small, stranger)}
    # the root disk: NVMe after a boot, virtio when the guest resumed the session's saved boot
    rootdev = vm.sh("findmnt -n -o SOURCE /").strip()

    cases = [
        (["dmscale", "attach", fsdev], "ext4 signature"),
        (["dmscale", "init", "--name", "x", fsdev], "ext4 signature"),
        (["dmscale", "attach", ptdev], "dos partition table"),
        (["dmscale", "attach", otherdev], "another pool, 'other'"),
        (["dmscale", "init", otherdev], "another pool, 'other'"),
        (["dmscale", "attach", smalldev], "too small"),
        (["dmscale", "attach", rootdev], None),
        (["dmscale", "attach", "/dev/does-not-exist"], "no such device"),
        (["dmscale", "init", "/dev/xvdzz"], "no such device"),
    ]
    for argv, msg in cases:
        rc, out, err = vm.run(argv, check=False)
        assert rc != 0, argv
        lines = [l for l in err.splitlines() if l.strip()]
        assert lines and "error:" in lines[-1], (argv, err)
        if msg:
            assert msg in err, (argv, err)
    # the root disk: refused whichever check fires first (mounted / root / signature)
    rc, _, err = vm.run(["dmscale", "attach", rootdev], check=False)
    assert rc != 0 and os.path.basename(rootdev) in err

    # a disk nobody expects: the udev path must ignore it
    vm.hotplug(stranger)
    nvme_by_serial(vm, stranger.serial)
    vm.wait_for("systemctl list-units 'dmscale-attach@*' --all --state=activating --no-legend | "
                "grep -q . && exit 1 || exit 0", timeout=30)
    assert len(status(vm)["members"]) == 1
    # A volume of a pool made elsewhere (a restored snapshot, a volume attached
    # for forensics) hot-plugged while scratch is mounted at /var/lib/docker:
    # udev leaves it untouched (not activated, never mounted over the live pool).
    vm.hotunplug(otherdisk)
    vm.sh("rm -rf /var/lib/dmscale/other")          # this machine never saw pool 'other'
    vm.hotplug(otherdisk)
    nvme_by_serial(vm, otherdisk.serial)
    vm.wait_for("journalctl -q -u 'dmscale-attach@*' --no-pager | grep -q 'left untouched'", timeout=90)
    vm.sh("udevadm settle")
    srcs = vm.sh("findmnt -n -o SOURCE /var/lib/docker").split()
    assert srcs == ["/dev/mapper/dmscale-scratch"], srcs
    assert vm.run(["dmsetup", "info", "dmscale-other"], check=False)[0] != 0, "foreign pool activated"
    assert len(status(vm)["members"]) == 1
    vm.sh("sync")
    for d in (fsdisk, ptdisk, otherdisk, small, stranger):
        assert d.sha256() == sums[d.volume_id], f"{d.volume_id} was modified"


def test_missing_member_refused_with_volume_id(vm):
    d0 = vm.new_disk(2 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", nvme_by_serial(vm, d0.serial)])
    d1 = vm.new_disk(2 * GIB)
    expect_pending(vm, d1.volume_id)
    vm.hotplug(d1)
    wait_members(vm, 2)
    write_payload(vm)
    # This test is about the refusal, not the boot's wait for late members
    # (test_followup_late.py): the boot gives up after 3 s instead of 60.
    vm.sh("mkdir -p /etc/systemd/system/dmscale-assemble.service.d; printf '[Service]\\nExecStart=\\n"
          "ExecStart=/usr/sbin/dmscale assemble --all --wait-members 3\\n' "
          "> /etc/systemd/system/dmscale-assemble.service.d/wait.conf")
    vm.shutdown()
    vm.start(cold_disks=[d0])
    assert "wait-members 3" in vm.sh("systemctl cat dmscale-assemble.service")
    rc, out, err = vm.run(["dmscale", "assemble"], check=False)
    assert rc != 0
    assert d1.volume_id in err and "incomplete" in err
    assert vm.run(["findmnt", "/var/lib/docker"], check=False)[0] != 0
    st = status(vm)
    assert st["state"] == "degraded"
    # the member comes back: the pool assembles through the udev path
    vm.hotplug(d1)
    vm.wait_for("findmnt /var/lib/docker", timeout=60)
    assert check_payload(vm)


def test_init_force_formats_over_an_old_filesystem(vm):
    """`init --force` on a disk whose first partition (at 1 MiB, where a new
    pool's data area starts) holds a filesystem: the pool gets a new one. The
    old one must never be taken for "our interrupted mkfs", mounted and grown
    (issue 12 item 4: init zeroes the data area's first MiB before labelling)."""
    d = vm.new_disk(2 * GIB)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    vm.sh(f"mkfs.ext4 -q -F -E offset={MIB} {dev} 512M; mkdir -p /mnt/old; "
          f"mount -o loop,offset={MIB} {dev} /mnt/old; echo old > /mnt/old/marker; umount /mnt/old; sync")
    vm.run(["dmscale", "init", "--force", "--name", "fz", "--mountpoint", "/mnt/fz", dev], timeout=180)
    assert vm.sh("findmnt -n -o SOURCE /mnt/fz").strip() == "/dev/mapper/dmscale-fz"
    assert vm.run(["test", "-e", "/mnt/fz/marker"], check=False)[0] != 0, \
        "the old filesystem at 1 MiB was mounted as the pool's"
