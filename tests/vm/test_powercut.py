"""Power cuts that lose the disk's volatile write cache, at every flush boundary
of `dmscale init` and `dmscale attach` (dm-linear and dm-thin), and of the
recreate that `dmscale assemble` runs when a pool's instance storage comes
back blank after a stop/start (issue 16).

The data disks are NVMe devices (serial vol…) backed by crashdisk.Server, an NBD
server that logs every write, FLUSH and FUA in order. One guest boot records the
four operations; then, in the same guest, for every cut point (after each FLUSH
or FUA write, plus a "torn" variant just before the next flush with a random
half of the unflushed writes) the disks' contents are swapped for the durable
state at that cut, and the guest recovers as a boot does, with no human step:

    dmscale assemble --all                       (dmscale-assemble.service)
    dmscale attach --udev DEV, for every disk    (udev coldplug: dmscale-attach@)
    dmscale init ... DEV                         (init and recreate scenarios: cloud-init runs
                                                  it at every boot)

and must end with the pool active and mounted with every member (recreate:
the two instance-store disks, striped, and the EBS volume), the
filesystem grown over the whole target, fsck -n clean, the payload written
and synced before the operation intact, and both label copies of every member
valid at the pool's generation (docs/FORMAT.md: stale or torn copies repaired).
"""
import hashlib
import json
import os
import struct
import sys
import time

import pytest

import crashdisk
import labelfmt
import vm as vmlib
from helpers import GIB, ISTORE_RULE, ISTORE_RULE_PATH, ISTORE_SERIAL_PREFIX, nvme_by_serial, record_result

DISK_BYTES = 1 * GIB          # dmscale refuses devices under 1 GiB
THIN = ["--target", "thin", "--virtual-size", "4G"]
SCENARIOS = {                 # name -> (pool, init arguments, operation recorded)
    "init-linear": ("il", [], "init"),
    "init-thin": ("it", THIN, "init"),
    "attach-linear": ("al", [], "attach"),
    "attach-thin": ("at", THIN, "attach"),
    # 2 instance-store disks (striped) + 1 EBS; the disks come back blank and
    # `dmscale assemble` recreates the pool over them (recorded last: until
    # then no instance-store disk is there for the other inits to take)
    "recreate-linear": ("rc", [], "recreate"),
}
SEED = int(os.environ.get("DMSCALE_POWERCUT_SEED", "1"))
TORN_ALL = os.environ.get("DMSCALE_POWERCUT_TORN") == "all"
# Every cut point by default; a CI with less time may check at most N per
# scenario, evenly spread over the operation (a sample: says so in the results).
MAX_CUTS = int(os.environ.get("DMSCALE_POWERCUT_MAX_CUTS", "0"))


class Bed:
    pass


def _image_key(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            fd = f.fileno()
            size = os.fstat(fd).st_size
            off = 0
            while off < size:
                try:
                    data = os.lseek(fd, off, os.SEEK_DATA)
                except OSError:
                    break
                hole = os.lseek(fd, data, os.SEEK_HOLE)
                f.seek(data)
                buf = f.read(hole - data)
                # all-zero extents hash like holes
                if buf.strip(b"\0"):
                    h.update(data.to_bytes(8, "little"))
                    h.update(buf)
                off = hole
        h.update(b"|")
    return h.hexdigest()


# one guest per file: keep the file's tests on one xdist worker (with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("powercut")


@pytest.fixture(scope="module")
def bed(base_image, tmp_path_factory):
    work = str(tmp_path_factory.mktemp("powercut"))
    b = Bed()
    b.t0 = time.monotonic()
    b.srv = crashdisk.Server(os.path.join(work, "nbd.sock"), os.path.join(work, "log"))
    # one guest for every cut of every scenario: longer than the bed's default
    # life. The default machine (its 16 ports hold the 7 disks hot-plugged
    # below), so it resumes the saved boot instead of booting.
    b.vm = vmlib.VM(os.path.join(work, "vm"), base_image, timeout_s=3600)
    b.work = work
    v = b.vm
    try:
        v.start()
        # recording and checking drive every step by hand: no udev-started attach
        v.sh("ln -sf /dev/null /etc/udev/rules.d/69-dmscale.rules && udevadm control --reload")
        v.write_file(ISTORE_RULE_PATH, ISTORE_RULE)
        v.sh("udevadm control --reload")
        b.calibration = _calibrate(b)
        _mark_mkfs(b)
        b.rec = {}
        for name, (pool, args, op) in SCENARIOS.items():
            b.rec[name] = _record_recreate(b, pool) if op == "recreate" else _record(b, name, pool, args, op)
        v.sh("for m in /mnt/*; do umount $m; done; dmsetup remove_all; sync", timeout=120)
        for d in v.disks.values():
            v.sh(f"blockdev --flushbufs {d.dev}")
        b.srv.recording = False
        b.record_seconds = time.monotonic() - b.t0
        b.rep = crashdisk.Replayer(b.srv, os.path.join(work, "replay"), seed=SEED)
        b.blank = os.path.join(work, "blank.img")
        with open(b.blank, "wb") as f:
            f.truncate(DISK_BYTES)
        b.parked = _parked_image(work)
        b.results = {}
        yield b
    except BaseException:
        print(v.console_tail(40), file=sys.stderr)
        raise
    finally:
        tot = {n: [e.writes, e.flushes, e.fua, e.fua_inferred] for n, e in b.srv.exports.items()}
        print(f"[powercut] requests per disk (writes, flushes, fua, taken as fua): {tot}", file=sys.stderr)
        v.kill()
        b.srv.close()


def _calibrate(b):
    """The harness is only sound if what the guest makes durable reaches the
    server as FLUSH or FUA: an O_DSYNC write to a disk must show up as a FUA
    write, or a write followed by a FLUSH on that disk."""
    v = b.vm
    d = v.new_nbd_disk(b.srv, DISK_BYTES)
    v.hotplug(d)
    d.dev = nvme_by_serial(v, d.serial)
    info = v.sh(f"n=$(basename {d.dev}); echo $(cat /sys/block/$n/queue/write_cache) fua=$(cat /sys/block/$n/queue/fua)")
    start = b.srv.mark()
    v.sh(f"dd if=/dev/urandom of={d.dev} bs=4096 count=1 seek=100 oflag=direct,dsync status=none")
    recs = b.srv.log[start:]
    w = [i for i, r in enumerate(recs) if r[0] == crashdisk.WRITE and r[2] == 100 * 4096]
    assert w, f"the O_DSYNC write did not reach the server: {recs}"
    durable = recs[w[0]][4] or any(r[0] == crashdisk.FLUSH and r[1] == d.serial for r in recs[w[0]:])
    assert durable, f"an O_DSYNC write reached the server without FUA or FLUSH (guest: {info}): {recs}"
    how = 'FUA' if recs[w[0]][4] else 'write + FLUSH'
    # the same through libaio, as dmscale writes its labels: the kernel sends a FUA write only
    start = b.srv.mark()
    e = b.srv.exports[d.serial]
    real = e.fua
    v.sh(f"fio --name=c --filename={d.dev} --rw=write --bs=4k --size=4k --offset={200 * 4096} "
         "--ioengine=libaio --direct=1 --sync=1 --iodepth=1 --output=/dev/null", timeout=120)
    recs = b.srv.log[start:]
    w = [r for r in recs if r[0] == crashdisk.WRITE and r[2] == 200 * 4096]
    assert w, recs
    aio = ("FUA" if e.fua > real else "plain write" + (" + FLUSH" if any(r[0] == crashdisk.FLUSH for r in recs)
                                                       else " (FUA dropped by QEMU)"))
    return info.strip() + f"; O_DSYNC write: {how}; libaio O_DSYNC write: {aio}"


# The mkfs-pending mark (dmscale/state.c) lives on the root filesystem, which
# no cut rolls back: after the recording it is cleared, so a state cut off in
# the middle of mkfs would meet a half-made filesystem with no mark, which a
# real power cut cannot leave (the mark is set and fsynced before mkfs starts).
# mkfs.ext4 is wrapped to write a marker to a disk of its own before and after
# the real one, so the log says where mkfs ran; each check sets the mark as a
# power cut at that point leaves it.
MKFS_WRAPPER = """#!/bin/sh
# test (test_powercut): log where mkfs runs, on the marker disk
dd if=/dev/zero of=%(marker)s bs=4096 count=1 oflag=direct,dsync conv=notrunc status=none
/usr/sbin/mke2fs -t ext4 "$@"
rc=$?
dd if=/dev/zero of=%(marker)s bs=4096 count=1 seek=1 oflag=direct,dsync conv=notrunc status=none
exit $rc
"""


def _mark_mkfs(b):
    v = b.vm
    d = v.new_nbd_disk(b.srv, DISK_BYTES)
    v.hotplug(d)
    d.dev = nvme_by_serial(v, d.serial)
    b.marker = d.serial
    v.write_file("/root/mkfs.ext4", MKFS_WRAPPER % {"marker": d.dev})
    # mkfs.ext4 is a symlink to mke2fs: point it at the wrapper (this guest's own root)
    v.sh("chmod 755 /root/mkfs.ext4 && ln -sf /root/mkfs.ext4 /usr/sbin/mkfs.ext4")


def _mkfs_window(b, r):
    """Log positions (first, last) of the marker writes around the recorded
    operation's mkfs, or None when it ran none."""
    w = [i for i in range(r["start"], r["end"]) if b.srv.log[i][1] == b.marker and b.srv.log[i][0] != crashdisk.FLUSH]
    assert len(w) in (0, 2), f"mkfs ran {len(w) / 2} times in the recording"
    return (w[0], w[1]) if w else None


def _record(b, name, pool, args, op):
    v = b.vm
    attach = op == "attach"
    disks = [v.new_nbd_disk(b.srv, DISK_BYTES) for _ in range(2 if attach else 1)]
    for d in disks:
        v.hotplug(d)
        d.dev = nvme_by_serial(v, d.serial)
    init = ["dmscale", "init", "--name", pool, "--mountpoint", f"/mnt/{pool}", *args, disks[0].dev]
    r = {"pool": pool, "args": args, "op": op, "disks": disks, "members": len(disks),
         "init_dev": disks[0]}
    if attach:
        v.run(init, timeout=180)
        v.sh(f"head -c 4M /dev/urandom > /mnt/{pool}/payload; sync")
        r["sum"] = v.sh(f"sha256sum /mnt/{pool}/payload")
        v.sh("sync; sleep 1; sync")
        r["start"] = b.srv.mark()
        v.run(["dmscale", "attach", "--name", pool, disks[1].dev], timeout=180)
    else:
        v.sh("sync")
        r["start"] = b.srv.mark()
        v.run(init, timeout=180)
    r["end"] = b.srv.mark()
    return r


def _record_recreate(b, pool):
    """A pool over 2 instance-store disks (striped) and an EBS volume, with a
    payload; then the "stop/start": the pool is stopped and the instance-store
    disks come back blank (zeroed in the guest, so the log holds it), and
    `dmscale assemble` (what dmscale-assemble.service runs at boot) recreates
    the pool over them. That assemble is the recorded operation."""
    v = b.vm
    ist = [v.new_nbd_disk(b.srv, DISK_BYTES, volume_id=f"{ISTORE_SERIAL_PREFIX}{90 + i:011d}") for i in range(2)]
    ebs = v.new_nbd_disk(b.srv, DISK_BYTES)
    disks = ist + [ebs]
    for d in disks:
        v.hotplug(d)
        d.dev = nvme_by_serial(v, d.serial)
    v.sh("udevadm settle")
    mp = f"/mnt/{pool}"
    v.run(["dmscale", "init", "--name", pool, "--mountpoint", mp, ebs.dev], timeout=180)
    table = v.sh(f"dmsetup table dmscale-{pool}")
    assert table.split("\n")[0].split()[2:4] == ["striped", "2"], table
    v.sh(f"head -c 1M /dev/urandom > {mp}/payload; umount {mp}; dmsetup remove dmscale-{pool}")
    for d in ist:
        v.sh(f"blkdiscard -z {d.dev}", timeout=300)
    v.sh("sync; " + "; ".join(f"blockdev --flushbufs {d.dev}" for d in disks))
    start = b.srv.mark()
    v.run(["dmscale", "assemble", "--name", pool], timeout=180)
    end = b.srv.mark()
    st = json.loads(v.sh(f"dmscale status --json --name {pool}"))
    assert [m["kind"] for m in st["members"]] == ["instance-store", "instance-store", "ebs"], st
    return {"pool": pool, "args": [], "op": "recreate", "disks": disks, "members": 3,
            "init_dev": ebs, "start": start, "end": end}


def _parked_image(work):
    """What the instance-store disks of the recreate scenario serve while the
    other scenarios are checked: a swap signature, so that no init takes them
    as blank instance storage (the pools recorded before them had none)."""
    p = os.path.join(work, "parked.img")
    with open(p, "wb") as f:
        f.truncate(DISK_BYTES)
        f.seek(1024)
        f.write(struct.pack("<III", 1, DISK_BYTES // 4096 - 1, 0))   # version 1, last page, no bad pages
        f.seek(4096 - 10)
        f.write(b"SWAPSPACE2")
    return p


def _park(b, names):
    """Serve the disks `names` as absent from the pool under test: blank, or,
    for instance-store disks, the parked image."""
    for n in names:
        b.srv.exports[n].swap(b.parked if n.startswith(ISTORE_SERIAL_PREFIX) else b.blank)


def _check_script(r, exp_members, mkfs_pending=False):
    pool = r["pool"]
    devs = " ".join(d.dev for d in r["disks"])
    mp = f"/mnt/{pool}"
    # Shell builtins wherever they do (read, printf, ": >"): under TCG every
    # process the guest starts costs ~0.1 s of host CPU, and this script runs
    # once per cut state (a `$(cut ... /proc/uptime)` per step was 11 of them).
    lines = [
        "res() { read u x < /proc/uptime; echo \"@@ $*\"; echo \"@@t $1 $u\"; }",
        "read u x < /proc/uptime; echo \"@@t start $u\"",
        # the disks' contents were swapped under the guest: drop what it cached of them
        # (dmscale reads only ID_SERIAL_SHORT from udev, which did not change)
        f"for d in {devs}; do blockdev --flushbufs $d; done; res swapped 0",
        f"mkdir -p /var/lib/dmscale/{pool}; " + (f": > /var/lib/dmscale/{pool}/mkfs-pending" if mkfs_pending
                                                 else f"rm -f /var/lib/dmscale/{pool}/mkfs-pending"),
    ]
    if r["op"] == "attach":
        lines.append(f"echo {r['disks'][1].volume_id} > /var/lib/dmscale/{pool}/pending")
    lines += [
        "dmscale assemble --all; res assemble $?",
        f"for d in {devs}; do dmscale attach --udev $d; res attach-udev $d $?; done",
    ]
    if r["op"] != "attach":
        init = " ".join(["dmscale", "init", "--name", pool, "--mountpoint", mp, *r["args"], r["init_dev"].dev])
        lines.append(f"{init}; res init $?")
    lines += [
        f"findmnt -n {mp} >/dev/null; res mounted $?",
        f"dmscale status --json --name {pool} > /tmp/st.json; res status $?",
        "printf '@@json '; while IFS= read -r l || [ -n \"$l\" ]; do printf '%s' \"$l\"; done < /tmp/st.json; echo",
        f"dumpe2fs -h /dev/mapper/dmscale-{pool} 2>/dev/null | "
        # printf: mawk prints a product over 2^31 as %.6g (3.21808e+09)
        "awk -F: '/^Block count/{c=$2} /^Block size/{s=$2} END{printf \"@@ fsbytes %.0f\\n\", c*s}'",
    ]
    if r["op"] == "attach":
        lines.append(f"echo '{r['sum'].strip()}' | sha256sum -c --quiet; res payload $?")
    lines += [
        f"umount {mp}; res umount $?",
        f"e2fsck -fn /dev/mapper/dmscale-{pool} > /tmp/fsck.out 2>&1; c=$?; res fsck $c; "
        "[ $c -eq 0 ] || tail -c 1200 /tmp/fsck.out",
        f"rm -f /var/lib/dmscale/{pool}/pending",
        "dmsetup remove_all; res teardown $?",
        f"for d in {devs}; do blockdev --flushbufs $d; done",
    ]
    return "\n".join(lines)


def _verify(out, r, exp_members, images):
    """Problems (strings) found in one case's output and images."""
    res, js, fsbytes = {}, None, None
    for line in out.splitlines():
        if line.startswith("@@json "):
            try:
                js = json.loads(line[7:])
            except ValueError:
                pass
        elif line.startswith("@@ fsbytes"):
            fsbytes = int(float(line.split()[2] or 0))
        elif line.startswith("@@ "):
            w = line.split()
            res[" ".join(w[1:-1])] = int(w[-1])
    bad = [f"{k} exited {v}" for k, v in res.items()
           if v != 0 and k not in ("assemble",) and not k.startswith("attach-udev")]
    if res.get("assemble", 0) not in (0,) and r["op"] in ("attach", "recreate"):
        bad.append(f"assemble --all exited {res['assemble']}")
    if js is None:
        bad.append("no status")
    else:
        if len(js.get("members", [])) != exp_members:
            bad.append(f"{len(js.get('members', []))} members, want {exp_members}")
        if js.get("state") != "active":
            bad.append(f"state {js.get('state')}")
        if r["args"] == [] and fsbytes != js.get("size_bytes"):
            bad.append(f"filesystem {fsbytes} bytes, target {js.get('size_bytes')}")
        if r["args"] and js.get("pool"):
            want = sum(m["data_bytes"] for m in js["members"]) // (512 << 10) * (512 << 10)
            if js["pool"].get("data_total_bytes") != want:
                bad.append(f"thin data {js['pool'].get('data_total_bytes')}, members {want}")
    gens = set()
    for p in images:
        a, b = labelfmt.read_image(p)
        if not isinstance(a, dict) or not isinstance(b, dict):
            bad.append(f"{os.path.basename(p)}: label copy A {a if isinstance(a, str) else 'ok'}, "
                       f"B {b if isinstance(b, str) else 'ok'} after recovery")
            continue
        if a["generation"] != b["generation"]:
            bad.append(f"{os.path.basename(p)}: copies at generations {a['generation']}/{b['generation']}")
        gens.add(a["generation"])
    if len(gens) > 1:
        bad.append(f"members at generations {sorted(gens)} after recovery")
    return bad


def _step_times(out, acc):
    prev = None
    for line in out.splitlines():
        if line.startswith("@@t "):
            _, name, t = line.split()
            t = float(t)
            if prev is not None:
                acc[name] = round(acc.get(name, 0) + t - prev, 1)
            prev = t


def _cases(b, r):
    """(position, torn) cut points of one recording, in log order."""
    pts = crashdisk.cut_points(b.srv.log, r["start"], r["end"])
    cases, prev = [], r["start"]
    for p in pts:
        # torn: a random half of the writes since the previous cut, where they
        # touch a label area (or everywhere with DMSCALE_POWERCUT_TORN=all)
        label_writes = any(rec[0] != crashdisk.FLUSH and rec[2] < 2 * labelfmt.COPY_BYTES
                           for rec in b.srv.log[prev:p - 1])
        if p - 1 > prev and (label_writes or TORN_ALL):
            cases.append((p - 1, True))
        cases.append((p, False))
        prev = p
    return cases


# FORMAT.md §5.2: a member with only one valid label copy (or a stale one) gets
# it rewritten at assembly, so every cut state must also end with both copies
# valid; a copy left torn is reported apart from the other failures.


def _is_copy_problem(msg):
    return "label copy" in msg or "copies at generations" in msg


def _run_scenario(b, scenario):
    if scenario in b.results:
        return b.results[scenario]
    v = b.vm
    r = b.rec[scenario]
    names = [d.serial for d in r["disks"]]
    others = [n for n in b.srv.exports if n not in names]
    log = b.srv.log[r["start"]:r["end"]]
    flushes = sum(1 for rec in log if rec[0] == crashdisk.FLUSH)
    res = {"writes": sum(1 for rec in log if rec[0] != crashdisk.FLUSH), "flushes": flushes,
           "fua": sum(1 for rec in log if rec[4])}
    t0 = time.monotonic()
    seen, hard, copies, checked, steps = set(), [], [], 0, {}
    exp_members = r["members"]
    case_dir = os.path.join(b.work, "case")
    os.makedirs(case_dir, exist_ok=True)
    # disks of the other scenarios read as blank: only this pool is there to assemble
    _park(b, others)
    cases = _cases(b, r)
    res["cut_points"] = len(cases)
    if MAX_CUTS and len(cases) > MAX_CUTS:
        step = len(cases) / MAX_CUTS
        cases = [cases[int(i * step)] for i in range(MAX_CUTS)]
        res["sampled"] = len(cases)
    window = _mkfs_window(b, r)
    res["mkfs_window"] = [window[0] - r["start"], window[1] - r["start"]] if window else None
    for pos, torn in cases:
        # in the middle of mkfs, its mark is set (set before the first marker write,
        # cleared after the second: a cut between them leaves it)
        pending = window is not None and window[0] < pos <= window[1]
        imgs = []
        for n in names:
            p = os.path.join(case_dir, f"{n}.img")
            b.rep.image(pos, n, p, torn=torn)
            imgs.append(p)
        key = _image_key(imgs) + ("+mkfs-pending" if pending else "")
        if key in seen:
            continue
        seen.add(key)
        res["mkfs_pending_states"] = res.get("mkfs_pending_states", 0) + pending
        before = [labelfmt.read_image(p) for p in imgs]
        for n, p in zip(names, imgs):
            b.srv.exports[n].swap(p)
        rc, out, err = v.run(["/bin/sh", "-c", _check_script(r, exp_members, pending)], timeout=300, check=False)
        checked += 1
        _step_times(out, steps)
        bad = _verify(out, r, exp_members, imgs)
        desc = ["A " + (x if isinstance(x, str) else f"gen {x['generation']}") + ", B " +
                (y if isinstance(y, str) else f"gen {y['generation']}") for x, y in before]
        head = (f"cut at log {pos} (recording +{pos - r['start']} of {r['end'] - r['start']}, mkfs window "
                f"{res['mkfs_window']}){' torn' if torn else ''}{' mkfs-pending' if pending else ''} "
                f"(labels before: {desc}): ")
        tail = "\n" + "\n".join(l for l in (out + err).splitlines() if not l.startswith("@@json"))[-1500:]
        h = [m for m in bad if not _is_copy_problem(m)]
        c = [m for m in bad if _is_copy_problem(m)]
        if h:
            hard.append(head + "; ".join(bad) + tail)
        if c:
            copies.append(head + "; ".join(c))
    res.update({"distinct_states_checked": checked,
                "failures": len(hard), "label_copy_not_repaired": len(copies),
                "check_seconds": round(time.monotonic() - t0, 1),
                "record_seconds": round(b.record_seconds, 1), "guest_disk": b.calibration,
                "guest_seconds_by_step": steps})
    res["hard"], res["copies"] = hard, copies
    b.results[scenario] = res
    summary = {k: x for k, x in res.items() if k not in ("hard", "copies")}
    print(f"\n[powercut] {scenario}: {summary}", file=sys.stderr)
    for m in copies[:3]:
        print(f"[powercut] {scenario}: {m}", file=sys.stderr)
    record_result(f"powercut_{scenario}", summary)
    return res


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_power_cut_at_every_flush(bed, scenario):
    res = _run_scenario(bed, scenario)
    assert res["flushes"] > 0, "no FLUSH reached the disk: the harness would test nothing"
    assert res["distinct_states_checked"] > 1
    assert not res["hard"], (f"{len(res['hard'])} of {res['distinct_states_checked']} cut states failed:\n"
                             + "\n\n".join(res["hard"][:5]))
    assert not res["copies"], "\n".join(res["copies"][:5])


@pytest.mark.parametrize("torn", ["B-blank", "A-bad-checksum"])
def test_torn_label_copy_repaired(bed, torn):
    """Deterministic: the pool init-linear made, with one label copy torn, must
    come back from a boot's recovery with both copies valid (FORMAT.md §5.2/§5.3)."""
    b, v = bed, bed.vm
    r = b.rec["init-linear"]
    d = r["disks"][0]
    _park(b, list(b.srv.exports))
    img = os.path.join(b.work, f"torn-{torn}.img")
    crashdisk._sparse_copy(d.path, img)
    with open(img, "r+b") as f:
        if torn == "B-blank":
            f.seek(labelfmt.COPY_BYTES)
            f.write(b"\0" * labelfmt.COPY_BYTES)
        else:
            f.seek(40)                           # inside the checksummed pool uuid
            x = f.read(1)
            f.seek(40)
            f.write(bytes([x[0] ^ 0xFF]))
    a, bb = labelfmt.read_image(img)
    assert isinstance(a, dict) != isinstance(bb, dict), (a, bb)
    b.srv.exports[d.serial].swap(img)
    rc, out, err = v.run(["/bin/sh", "-c", _check_script(r, 1)], timeout=300, check=False)
    bad = _verify(out, r, 1, [img])
    assert not [m for m in bad if not _is_copy_problem(m)], out + err
    a, bb = labelfmt.read_image(img)
    assert isinstance(a, dict) and isinstance(bb, dict), (a if isinstance(a, str) else "A ok",
                                                          bb if isinstance(bb, str) else "B ok", out + err)
