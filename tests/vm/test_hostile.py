"""Hostile devices next to a live pool: a disk that returns I/O errors, one
whose writes hang, a member that comes back smaller than when it joined, and
disks carrying labels with valid checksums but impossible contents.

dmscale must never write to a device it has not validated (image hashes on
the host, and the NBD server's count of write requests), never hold the pool
lock for as long as a device hangs (a second command finishes within a bound),
and keep the live pool mounted (same mount id, same members and generation,
its members' label areas unchanged).

One guest for the whole file; each test makes a live pool of its own (hN at
/mnt/hN) and plugs its hostile devices next to it.
"""
import os
import sys
import threading
import time

import pytest

import crashdisk
import labelfmt
import vm as vmlib
from helpers import GIB, MIB, expect_pending, mount_id, nvme_by_serial, status

BOUND_S = 60          # a refusal or failure must come within this
HANG_S = 24           # a hanging disk answers after this (< the guest's nvme io_timeout of 30 s)


# one guest per file: keep the file's tests on one xdist worker (with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("hostile")


@pytest.fixture(scope="module")
def live(base_image, tmp_path_factory):
    work = str(tmp_path_factory.mktemp("hostile"))
    # the default machine (16 ports: at most 13 disks are plugged at once here),
    # so it resumes the saved boot instead of booting
    v = vmlib.VM(os.path.join(work, "vm"), base_image, timeout_s=1800)
    srv = crashdisk.Server(os.path.join(work, "nbd.sock"), os.path.join(work, "log"))
    srv.recording = False
    try:
        v.start()
        v.srv, v.work, v.npools = srv, work, 0
        yield v
    except BaseException:
        print(v.console_tail(40), file=sys.stderr)
        raise
    finally:
        for e in srv.exports.values():
            e.hang.set()
        v.kill()
        srv.close()


class Pool:
    """A live pool of its own for one test (name hN at /mnt/hN, one 1 GiB
    member, 4 MiB of payload), so that one test's damage does not spill over."""

    def __init__(self, v):
        v.npools += 1
        self.v, self.name = v, f"h{v.npools}"
        self.mp = f"/mnt/{self.name}"
        d0 = v.new_disk(1 * GIB)
        v.hotplug(d0)
        v.run(["dmscale", "init", "--name", self.name, "--mountpoint", self.mp, nvme_by_serial(v, d0.serial)],
              timeout=180)
        v.sh(f"head -c 4M /dev/urandom > {self.mp}/payload; sha256sum {self.mp}/payload > /root/{self.name}.sum; "
             f"sync -f {self.mp}")
        self.members = [d0]
        self.d0 = d0

    def status(self):
        return status(self.v, self.name)

    def mount_id(self):
        return mount_id(self.v, self.mp)


@pytest.fixture
def pool(live):
    return Pool(live)


def _label_area(d):
    with open(d.path, "rb") as f:
        return f.read(2 * labelfmt.COPY_BYTES)


class LiveSnapshot:
    def __init__(self, p):
        self.p = p
        self.mid = p.mount_id()
        st = p.status()
        self.members = [m["volume_id"] for m in st["members"]]
        self.generation = st["generation"]
        self.labels = {d.volume_id: _label_area(d) for d in p.members}

    def check(self):
        p, v = self.p, self.p.v
        state = v.sh(f"dmsetup info dmscale-{p.name} | awk '/^State:/ {{print $2}}'").strip()
        assert state == "ACTIVE", f"the live pool's device is {state}: all I/O to {p.mp} hangs"
        assert p.mount_id() == self.mid, "the live pool was unmounted or remounted"
        st = p.status()
        assert [m["volume_id"] for m in st["members"]] == self.members, st
        assert st["generation"] == self.generation and st["state"] == "active", st
        for d in p.members:
            assert _label_area(d) == self.labels[d.volume_id], f"live member {d.volume_id}'s label rewritten"
        assert "OK" in v.sh(f"timeout 60 sha256sum -c /root/{p.name}.sum")


def _settle_attach_units(v, timeout=BOUND_S):
    v.wait_for("systemctl list-units 'dmscale-attach@*' --all --state=activating,deactivating "
               "--no-legend --plain | grep -q . && exit 1 || exit 0", timeout=timeout)


def _timed(v, argv, bound=BOUND_S):
    t0 = time.monotonic()
    rc, out, err = v.run(argv, check=False, timeout=bound + 30)
    secs = time.monotonic() - t0
    print(f"[hostile] {' '.join(argv)}: rc {rc} in {secs:.1f}s: {(out + err).strip()[-600:]}", file=sys.stderr)
    assert secs < bound, f"{argv} took {secs:.0f}s (bound {bound}s): {err}"
    return rc, out, err


def _unplug(v, d):
    v.hotunplug(d)
    v.sh(f"sed -i '/{d.volume_id}/d' /var/lib/dmscale/*/pending 2>/dev/null || true")


def test_eio_device_is_never_written(pool):
    v = pool.v
    snap = LiveSnapshot(pool)
    x = v.new_nbd_disk(v.srv, 1 * GIB)
    e = v.srv.exports[x.serial]
    e.fail_reads = e.fail_writes = True
    expect_pending(v, x.volume_id, pool.name)   # the daemon asked for it: udev hands it to dmscale
    v.hotplug(x)
    dev = nvme_by_serial(v, x.serial, timeout=60)
    _settle_attach_units(v)
    rc, out, err = _timed(v, ["dmscale", "attach", "--udev", dev])
    assert rc != 0, "a device that cannot be read was accepted"
    rc, out, err = _timed(v, ["dmscale", "attach", "--name", pool.name, dev])
    assert rc != 0
    _timed(v, ["dmscale", "assemble", "--all"])
    rc, out, err = _timed(v, ["dmscale", "init", "--name", "hx", "--mountpoint", "/mnt/hx", dev])
    assert rc != 0, "init made a pool on a device that cannot be read"
    assert e.writes == 0, f"dmscale wrote {e.writes} times to a device it could not read"
    snap.check()
    e.fail_reads = e.fail_writes = False
    _unplug(v, x)


def test_write_eio_device_fails_cleanly(pool):
    """Readable and blank (so valid), but every write fails: the append fails,
    the live pool is untouched, and the next append of a good disk works."""
    v = pool.v
    snap = LiveSnapshot(pool)
    x = v.new_nbd_disk(v.srv, 1 * GIB)
    e = v.srv.exports[x.serial]
    e.fail_writes = True
    v.hotplug(x)
    dev = nvme_by_serial(v, x.serial, timeout=60)
    _settle_attach_units(v)
    rc, out, err = _timed(v, ["dmscale", "attach", "--name", pool.name, dev])
    assert rc != 0, "an append onto a device whose writes fail reported success"
    snap.check()
    good = v.new_disk(1 * GIB)
    v.hotplug(good)
    gdev = nvme_by_serial(v, good.serial)
    _settle_attach_units(v)
    rc, out, err = _timed(v, ["dmscale", "attach", "--name", pool.name, gdev], bound=120)
    assert rc == 0, err
    st = pool.status()
    assert [m["volume_id"] for m in st["members"]] == snap.members + [good.volume_id], st
    e.fail_writes = False
    _unplug(v, x)


def test_hanging_device_does_not_hold_the_pool_lock(pool):
    """An attach onto a disk whose writes hang gives up at its label deadline
    (10 s) and releases the pool lock, but cannot exit until the disk answers
    (exit_aio waits for the write). A second attach must not then read that
    disk (its read queues behind the hung write), wait out a deadline of its
    own under the lock and hang at exit in turn: the first leaves a stuck
    marker (dmscale/stuck.h) and the second skips the disk."""
    v = pool.v
    snap = LiveSnapshot(pool)
    x = v.new_nbd_disk(v.srv, 1 * GIB)
    e = v.srv.exports[x.serial]
    v.hotplug(x)
    dev = nvme_by_serial(v, x.serial, timeout=60)
    good = v.new_disk(1 * GIB)
    v.hotplug(good)
    gdev = nvme_by_serial(v, good.serial)
    _settle_attach_units(v)
    e.hang_writes_only = True
    e.hang.clear()                                  # reads answer, writes never do (until released)
    release = threading.Timer(HANG_S, e.hang.set)
    release.start()
    try:
        v.sh(f"rm -f /root/hang.rc; setsid -f sh -c 'dmscale attach --name {pool.name} {dev} "
             f">/root/hang.out 2>&1; echo $? > /root/hang.rc' >/dev/null 2>&1 </dev/null")
        time.sleep(4)                               # it validated the disk and is writing its label
        assert not e.hang.is_set()
        t0 = time.monotonic()
        rc, out, err = v.run(["dmscale", "attach", "--name", pool.name, gdev], check=False,
                             timeout=HANG_S + 60)
        secs = time.monotonic() - t0
        hung_then = not e.hang.is_set()
    finally:
        e.hang.set()
        release.cancel()
    v.wait_for("test -s /root/hang.rc", timeout=90)
    first = v.sh("cat /root/hang.rc /root/hang.out")
    print(f"[hostile] first attach (onto the hanging disk): {first}\n[hostile] second attach took "
          f"{secs:.1f}s, rc {rc}: {err}", file=sys.stderr)
    st = pool.status()
    # the hanging disk may have joined once it answered: then it stays (never unplug a member)
    assert assert_mounted(pool, snap)
    assert hung_then, (f"the second attach finished only after the hanging disk answered ({secs:.0f}s): "
                       "the pool lock was held as long as the device hung")
    assert rc == 0, err
    assert good.volume_id in [m["volume_id"] for m in st["members"]], st


def assert_mounted(p, snap):
    assert p.mount_id() == snap.mid, "the live pool was unmounted or remounted"
    assert "OK" in p.v.sh(f"timeout 60 sha256sum -c /root/{p.name}.sum")
    return True


def test_shrunk_member_is_refused_untouched(pool):
    """A member that comes back smaller than its label says: its pool is not
    assembled, nothing is written, the live pool stays."""
    v = pool.v
    snap = LiveSnapshot(pool)
    s0, s1 = v.new_disk(1 * GIB), v.new_disk(2 * GIB)
    for d in (s0, s1):
        v.hotplug(d)
    dev0, dev1 = nvme_by_serial(v, s0.serial), nvme_by_serial(v, s1.serial)
    _settle_attach_units(v)
    v.run(["dmscale", "init", "--name", "sh", "--mountpoint", "/mnt/sh", dev0], timeout=180)
    v.run(["dmscale", "attach", "--name", "sh", dev1], timeout=180)
    v.sh("head -c 1M /dev/urandom > /mnt/sh/f; umount /mnt/sh; dmsetup remove dmscale-sh; sync")
    v.hotunplug(s1)
    with open(s1.path, "r+b") as f:
        f.truncate(1 * GIB + 64 * MIB)
    s1.size_bytes = 1 * GIB + 64 * MIB
    sums = {d.volume_id: d.sha256() for d in (s0, s1)}
    v.hotplug(s1)
    nvme_by_serial(v, s1.serial)
    _settle_attach_units(v)
    rc, out, err = _timed(v, ["dmscale", "assemble", "--name", "sh"])
    assert rc != 0, f"a pool whose member shrank was assembled: {err}"
    assert v.run(["findmnt", "/mnt/sh"], check=False)[0] != 0
    _timed(v, ["dmscale", "assemble", "--all"])
    v.sh("sync")
    for d in (s0, s1):
        assert d.sha256() == sums[d.volume_id], f"{d.volume_id} was written"
    snap.check()
    v.sh("dmsetup remove dmscale-sh 2>/dev/null || true")
    for d in (s0, s1):
        v.hotunplug(d)


def _crafted(p, kind):
    """A 1 GiB disk image carrying a label with valid checksums but impossible contents."""
    v = p.v
    a, _ = labelfmt.read_image(p.d0.path)
    assert isinstance(a, dict), a
    d = v.new_disk(1 * GIB)
    live_entries = [(m["uuid"], m["volume_id"], m["size_bytes"], m["data_offset_bytes"], m["data_bytes"])
                    for m in a["members"]]
    me = labelfmt.new_uuid()
    if kind == "foreign-data-beyond-device":
        kw = dict(generation=1, pool_uuid=labelfmt.new_uuid(), member_uuid=me, member_index=0,
                  pool_name="ghost", fs_type="ext4", target=1,
                  members=[(me, d.volume_id, 64 * GIB, MIB, 64 * GIB - MIB)])
    elif kind == "live-successor-beyond-device":
        n = len(live_entries)
        kw = dict(generation=a["generation"] + 1, pool_uuid=a["pool_uuid"], member_uuid=me, member_index=n,
                  pool_name=a["pool_name"], fs_type=a["fs_type"], target=a["target"],
                  members=live_entries + [(me, d.volume_id, 64 * GIB, MIB, 64 * GIB - MIB)])
    elif kind == "clone-of-live-member":
        m0 = a["members"][0]
        kw = dict(generation=a["generation"], pool_uuid=a["pool_uuid"], member_uuid=m0["uuid"], member_index=0,
                  pool_name=a["pool_name"], fs_type=a["fs_type"], target=a["target"], members=live_entries)
    elif kind == "duplicate-member-uuids":
        kw = dict(generation=a["generation"] + 1, pool_uuid=a["pool_uuid"], member_uuid=me, member_index=1,
                  pool_name=a["pool_name"], fs_type=a["fs_type"], target=a["target"],
                  members=[(me, live_entries[0][1], GIB, MIB, GIB - MIB), (me, d.volume_id, GIB, MIB, GIB - MIB)])
    else:
        raise ValueError(kind)
    labelfmt.write_label(d.path, **kw)
    chk = labelfmt.read_image(d.path)
    assert all(isinstance(c, dict) or c != "bad checksum" for c in chk), chk
    return d


@pytest.mark.parametrize("kind", [
    "foreign-data-beyond-device",
    "live-successor-beyond-device",
    "clone-of-live-member",
    "duplicate-member-uuids"])
def test_impossible_label_is_refused_untouched(pool, kind):
    v = pool.v
    snap = LiveSnapshot(pool)
    d = _crafted(pool, kind)
    before = d.sha256()
    v.hotplug(d)                     # udev: attach --udev claims any labelled disk
    dev = nvme_by_serial(v, d.serial)
    _settle_attach_units(v)
    print(f"[hostile] {kind}: " + v.sh("journalctl -b --no-pager -o cat -u 'dmscale-attach@*' | tail -5"),
          file=sys.stderr)
    snap.check()
    _timed(v, ["dmscale", "attach", "--udev", dev])
    snap.check()
    _timed(v, ["dmscale", "assemble", "--all"])
    snap.check()
    rc, out, err = _timed(v, ["dmscale", "attach", "--name", pool.name, dev])
    assert rc != 0, f"{kind}: attach accepted the device: {out}{err}"
    snap.check()
    assert d.sha256() == before, f"{kind}: the device was written"
    assert v.run(["findmnt", "/mnt/ghost"], check=False)[0] != 0
    v.hotunplug(d)
