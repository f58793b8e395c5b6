#!/usr/bin/python3
"""`make bench`: dmscale against the seed's LVM and btrfs paths, in the VM test bed.

Boots the Debian guest of tests/vm (QEMU TCG, NVMe hot-plug through QMP, EC2/IMDS
simulator), runs seven measurements and writes bench/results.json and
docs/BENCHMARKS.md (rendered by bench/render.py). Every timing is taken inside the
guest on CLOCK_MONOTONIC (udevadm monitor, statvfs polling, systemd unit
timestamps) except the reaction time, which needs the simulator's clock and is
mapped through a guest-get-time offset estimate.

    bench/bench.py [--out bench/results.json] [--doc docs/BENCHMARKS.md]
    BENCH_SMOKE=1 bench/bench.py --out /tmp/r.json --doc /tmp/B.md   # tiny, 1 trial

Nothing here asserts a timing."""
import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import base64

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(PROJECT, "tests", "vm"))
sys.path.insert(0, HERE)

import vm as vmlib  # noqa: E402
from ec2bed import Bed, daemon_config  # noqa: E402
from helpers import GIB, MIB, expect_pending, nvme_by_serial  # noqa: E402
import render  # noqa: E402
import summary as bsummary  # noqa: E402

# Up to 26 + 26 members in one VM (section 3) plus base disks: more pcie-root-ports
# than the test bed's default 32 (set on the module, tests/vm/vm.py is unchanged).
vmlib.ROOT_PORTS = 64

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
G = "/usr/local/lib/dmscale-bench"       # guest copy of bench/guest
RUN = "/run/dmscale-bench"

FULL = dict(
    k_attach=5, k_stall=5, stall_window_s=10.0, k_flat=5, flat_small=2, flat_large=26, fio_lead_s=2.0, fio_iodepth=8, fio_rate_iops=0, buf_rate_mib=24, scale_members=26,
    scale_checkpoints=[2, 8, 16, 26], k_assemble=3, reboot=True, k_react=5,
    race_s0_gib=1, race_fill_x=4, race_trials=3, race_latency_s=10.0, thin_rate=32,
    idle_s=300, strace_s=30, trace=dict(nbig=3, bigmib=640, nsmall=1500, smallkib=48), trace_s0_gib=2,
    disk_gib=1, base_gib=1, k_istore=5, istore_write_mib=256, istore_iodepth=16,
)
SMALL = dict(
    k_attach=1, k_stall=1, stall_window_s=3.0, k_flat=1, flat_small=2, flat_large=3, fio_lead_s=1.0, fio_iodepth=8, fio_rate_iops=500, buf_rate_mib=8, scale_members=3,
    scale_checkpoints=[2, 3], k_assemble=1, reboot=False, k_react=1,
    race_s0_gib=1, race_fill_x=1.1, race_trials=1, race_latency_s=2.0, thin_rate=24,
    idle_s=5, strace_s=4, trace=dict(nbig=2, bigmib=300, nsmall=100, smallkib=16), trace_s0_gib=1,
    disk_gib=1, base_gib=1, k_istore=1, istore_write_mib=64, istore_iodepth=16,
)
P = SMALL if SMOKE else FULL

# The smoke run (part of `make check`) covers every section and every kind of
# path, with one filesystem for the dmscale and LVM paths, to stay a few minutes.
# Its figures mean nothing (3 s stall windows, a 1.1x fill race): on
# CI's 2 cores the VM tests are CPU-bound, and the smoke was their largest
# single cost (343 s of host CPU; per section on a quiet host: boot 31, attach
# 32, stall 72, fill race 54, scaling 31, footprint 19, reaction 14, cost 14).
FS_LIST = ["ext4"] if SMOKE else ["ext4", "xfs", "btrfs"]
TARGETS = False         # --targets: only what issue 14's summary needs
BUFFERED = "-buffered"  # section 2: a row of the same path with the buffered writer
# section 2's attach paths (section 1's names), each measured where it is available
STALL_PATHS = ("dmscale-linear-ext4", "lvm-ext4", "dmscale-linear-xfs", "lvm-xfs", "btrfs-device-add")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def summary(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return {"n": 0, "median": None, "min": None, "max": None}
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return {"n": n, "median": med, "min": v[0], "max": v[-1]}


def ratio(a, b):
    """a / b of two summaries' medians (None if either is missing)."""
    try:
        if a["median"] is None or b["median"] in (None, 0):
            return None
        return a["median"] / b["median"]
    except (KeyError, TypeError):
        return None


# ------------------------------------------------------------------ guest plumbing
def gstart(vm, argv):
    """Start argv in the guest without waiting; returns the guest pid (argv[0]'s)."""
    return vm.qga.call("guest-exec", path=argv[0], arg=list(argv[1:]), **{"capture-output": True})["pid"]


def gwait(vm, pid, timeout, first_sleep=0.0, interval=0.2):
    if first_sleep:
        time.sleep(first_sleep)
    end = time.monotonic() + timeout
    while True:
        st = vm.qga.call("guest-exec-status", pid=pid)
        if st.get("exited"):
            out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
            err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
            return st.get("exitcode", 128 + st.get("signal", 0)), out, err
        if time.monotonic() > end:
            raise vmlib.VMError(f"guest pid {pid} did not finish in {timeout}s")
        time.sleep(interval)


def gjson(vm, argv, timeout=120):
    rc, out, err = vm.run(argv, timeout=timeout, check=False)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise vmlib.VMError(f"{argv!r} rc={rc}: no JSON\nstdout: {out}\nstderr: {err}")


def install_bench(vm):
    gdir = os.path.join(HERE, "guest")
    vm.run(["mkdir", "-p", G, RUN + "/claim", "/bench"])
    for n in sorted(os.listdir(gdir)):
        if os.path.isdir(os.path.join(gdir, n)):
            continue                        # guest/seed: bench/seed.py installs its own files
        with open(os.path.join(gdir, n), "rb") as f:
            data = f.read()
        if n.endswith(".rules"):
            vm.write_file(f"/etc/udev/rules.d/{n}", data)
        elif n.endswith(".service"):
            vm.write_file(f"/etc/systemd/system/{n}", data)
        else:
            vm.write_file(f"{G}/{n}", data, mode="0755")
    vm.sh("systemctl daemon-reload; udevadm control --reload")


def after_boot(vm):
    vm.run(["mkdir", "-p", RUN + "/claim", "/bench"])


def add_disk(vm, nbytes):
    d = vm.new_disk(nbytes)
    vm.hotplug(d)
    return d, nvme_by_serial(vm, d.serial, timeout=60)


def wait_units_idle(vm, timeout=180):
    vm.wait_for("! systemctl list-units 'dmscale-attach@*' 'bench-seed-attach@*' --all "
                "--state=activating --no-legend --plain | grep -q .", timeout=timeout, interval=0.5)


def journal_entries(vm, unit, fields="MESSAGE"):
    """(monotonic s, message, entry) of each journal entry of unit in this boot."""
    out = vm.sh(f"journalctl -b -u {unit} -o json --no-pager --output-fields={fields}")
    for line in out.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        msg = j.get("MESSAGE") if isinstance(j.get("MESSAGE"), str) else ""
        yield int(j["__MONOTONIC_TIMESTAMP"]) / 1e6, msg, j


def journal_unit(vm, unit):
    """(start, end, ok) of a unit's last start job from systemd's journal messages
    (monotonic s; end None while running). Oneshot template units are garbage-
    collected once inactive, so their properties cannot be read afterwards."""
    start = end = None
    ok = False
    for ts, msg, j in journal_entries(vm, unit, "MESSAGE,JOB_TYPE,JOB_RESULT"):
        if msg.startswith("Starting "):
            start, end, ok = ts, None, False
        elif j.get("JOB_TYPE") == "start" and j.get("JOB_RESULT"):
            end, ok = ts, j["JOB_RESULT"] == "done"
    return start, end, ok


def unit_times(vm, unit, timeout=180):
    """Wait until a oneshot unit ran; returns {start, end, ok} (monotonic s)."""
    end_t = time.monotonic() + timeout
    while True:
        start, end, ok = journal_unit(vm, unit)
        if end is not None:
            return {"start": start, "end": end, "ok": ok}
        if time.monotonic() > end_t:
            raise vmlib.VMError(f"{unit} did not finish\n" +
                                vm.sh(f"journalctl -b -u {unit} --no-pager -o cat | tail -20"))
        time.sleep(0.3)


def guest_kernel(vm):
    return vm.sh("uname -r").strip()


# ------------------------------------------------------------------ paths (section 1, 2, 3)
class Path:
    """One way of growing a mounted filesystem by a new disk."""

    def __init__(self, name, kind, fs, target="linear", tag=None, daemon=False):
        self.name, self.kind, self.fs, self.target = name, kind, fs, target
        # daemon: `dmscale daemon` runs for the pool (it needs the bed's EC2
        # simulator to start) and appends the claimed disk in-process, on
        # its udev monitor; dmscale-attach@ then finds it done
        self.daemon = daemon
        tag = tag or name.replace("-", "")
        self.tag = tag
        self.mp = f"/bench/{tag}"
        self.pool = tag                      # dmscale pool name
        self.vg = f"vg{tag}"
        self.available, self.note = True, ""

    @property
    def unit_prefix(self):
        return "dmscale-attach@" if self.kind == "dmscale" else "bench-seed-attach@"

    def setup(self, vm, nbytes):
        d, dev = add_disk(vm, nbytes)
        wait_units_idle(vm)
        vm.run(["mkdir", "-p", self.mp])
        if self.kind == "dmscale":
            argv = ["dmscale", "init", "--name", self.pool, "--mountpoint", self.mp, "--fs", self.fs]
            if self.target == "thin":
                argv += ["--target", "thin", "--virtual-size", "64G"]
            rc, out, err = vm.run(argv + [dev], timeout=180, check=False)
            if rc != 0 or vm.run(["mountpoint", "-q", self.mp], check=False)[0] != 0:
                self.available = False
                self.note = "not available in this build: " + (err.strip().splitlines() or ["?"])[-1][:200]
                vm.run(["sh", "-c", f"umount {self.mp}; dmsetup remove dmscale-{self.pool}; true"], check=False)
                return False
            if self.daemon:     # idle: an empty 2 GiB pool is far above its threshold
                start_daemon(vm, self.pool, self.mp, self.daemon_unit)
        elif self.kind == "lvm":
            mkfs = ("mkfs.xfs -q -f -K" if self.fs == "xfs" else
                    "mkfs.ext4 -q -F -m 0 -O 64bit,resize_inode -E nodiscard,lazy_itable_init=1,lazy_journal_init=1")
            vm.sh(f"pvcreate -q {dev} && vgcreate -q {self.vg} {dev} && "
                  f"lvcreate -q -y -l 100%FREE -n lv {self.vg} && {mkfs} /dev/{self.vg}/lv && "
                  f"mount -o noatime /dev/{self.vg}/lv {self.mp}", timeout=180)
        elif self.kind == "btrfs":
            vm.sh(f"mkfs.btrfs -q -f -K {dev} && mount -o noatime {dev} {self.mp}", timeout=180)
        self.base_disk = d
        return True

    @property
    def daemon_unit(self):
        return f"bench-daemon-{self.tag}.service"

    def claim(self, vm, disk):
        if self.kind == "dmscale":
            # under the pending list's lock: an attach of the previous disk may be
            # rewriting the list (its unpend) now, and a bare append was lost
            # that way (section 3b: 25 of 26 members)
            expect_pending(vm, disk.volume_id, self.pool)
        elif self.kind == "lvm":
            vm.write_file(f"{RUN}/claim/{disk.serial}", f"lvm {self.vg} lv {self.fs} {self.mp}\n")
        else:
            vm.write_file(f"{RUN}/claim/{disk.serial}", f"btrfs {self.mp}\n")

    def grows_fs(self):
        return self.target != "thin"


def attach_trial(vm, path, nbytes, watch=True):
    """Hot-plug one disk claimed by `path`; returns the timings (seconds)."""
    d = vm.new_disk(nbytes)
    path.claim(vm, d)
    if not watch:
        vm.hotplug(d)
        return d
    ready = f"{RUN}/ready.{d.serial}"
    grow = nbytes // 2 if path.grows_fs() else 0
    pid = gstart(vm, ["/usr/bin/python3", f"{G}/watch.py", d.serial, path.mp, str(grow), ready, "150"])
    vm.wait_for(f"test -e {ready}", timeout=60, interval=0.1)
    vm.hotplug(d)
    rc, out, err = gwait(vm, pid, 200, first_sleep=1.0)
    try:
        w = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise vmlib.VMError(f"watch.py failed rc={rc}: {out} {err}")
    if "dev" not in w:
        raise vmlib.VMError(f"device {d.serial} never appeared: {w}")
    u = unit_times(vm, f"{path.unit_prefix}{w['dev']}.service")
    t_start, t_exit = u["start"] or u["end"], u["end"]
    r = {"disk": d.volume_id, "dev": w["dev"], "t_node": w["t_node"], "ok": u["ok"],
         "dispatch_s": t_start - w["t_node"], "done_s": t_exit - w["t_node"], "t_exit": t_exit,
         "rt_minus_mono": w["rt_minus_mono"], "size0": w["size0"], "size1": w.get("size1")}
    if "t_size" in w:
        r["size_s"] = w["t_size"] - w["t_node"]
        r["t_size"] = w["t_size"]
    # the figure: node present -> mounted fs shows the new size (thin: the attach
    # command has grown the pool's data device; the fs size does not change)
    r["latency_s"] = r.get("size_s", r["done_s"]) if path.grows_fs() else r["done_s"]
    if not r["ok"]:
        r["error"] = vm.sh(f"journalctl -b -u {path.unit_prefix}{w['dev']}.service --no-pager -o cat | tail -5")
    if path.daemon:
        # the append ran in the daemon: its step line and its end are in the
        # daemon's journal (the unit took the lock after it and found the disk
        # no longer pending); no unit dispatch is on this path
        t_end = daemon_append_end(vm, path.daemon_unit, w["dev"])
        r.update({"dispatch_s": None, "done_s": t_end - w["t_node"] if t_end else None, "t_exit": t_end,
                  "ok": r["ok"] and t_end is not None, "attach_unit_done_s": r["done_s"]})
        r["steps_ms"] = attach_steps(vm, path.daemon_unit)
    elif path.kind == "dmscale":
        r["steps_ms"] = attach_steps(vm, f"{path.unit_prefix}{w['dev']}.service")
    return r


def daemon_append_end(vm, unit, dev):
    """Monotonic time (s) of the daemon's step line for its append of /dev/dev, or None."""
    t = None
    for ts, msg, _ in journal_entries(vm, unit):
        if " steps: " in msg and f"attach /dev/{dev}:" in msg:
            t = ts
    return t


def attach_steps(vm, unit):
    """The step durations the attach logged (dmscale/steps.c), from the unit's journal."""
    rc, out, err = vm.sh(f"journalctl -b -u {unit} --no-pager -o cat | grep ' steps: ' | tail -1", check=False)
    return bsummary.parse_steps(out)


def s1_paths(daemon=False):
    paths = []
    for fs in FS_LIST:
        paths.append(Path(f"dmscale-linear-{fs}", "dmscale", fs, "linear", tag=f"l{fs}"))
    for fs in (["ext4"] if TARGETS else FS_LIST):
        paths.append(Path(f"dmscale-thin-{fs}", "dmscale", fs, "thin", tag=f"t{fs}"))
    if daemon:
        paths.append(Path("dmscale-daemon-linear-ext4", "dmscale", "ext4", "linear", tag="dlext4", daemon=True))
    paths.append(Path("lvm-ext4", "lvm", "ext4", tag="lvmext4"))
    if "xfs" in FS_LIST:
        paths.append(Path("lvm-xfs", "lvm", "xfs", tag="lvmxfs"))
    if not TARGETS:
        paths.append(Path("btrfs-device-add", "btrfs", "btrfs", tag="btrfsadd"))
    return paths


def section_attach(vm, res, daemon=True):
    """1. Attach latency, every path in one VM, rounds interleaved A B C …, the
    order rotated each round. daemon: the VM is a bed's (EC2 simulator), so
    the daemon's in-process path is a row too."""
    log("section 1: attach latency")
    paths = s1_paths(daemon)
    sec = {"trials_per_path": P["k_attach"], "disk_gib": P["disk_gib"], "paths": {}}
    for p in paths:
        p.setup(vm, P["base_gib"] * GIB)
        sec["paths"][p.name] = {"kind": p.kind, "fs": p.fs, "target": p.target, "available": p.available,
                                "note": p.note, "trials": []}
        log(f"  {p.name}: {'ready' if p.available else p.note}")
    live = [p for p in paths if p.available]
    for k in range(P["k_attach"]):
        order = live[k % len(live):] + live[:k % len(live)]
        if k % 2:
            order = order[::-1]
        for p in order:
            r = attach_trial(vm, p, P["disk_gib"] * GIB)
            r["round"] = k
            sec["paths"][p.name]["trials"].append(r)
            log(f"  round {k} {p.name}: {r['latency_s']:.3f} s (done {r['done_s'] or 0:.3f} s){'' if r['ok'] else ' FAILED'}")
            time.sleep(0.5)
    for name, e in sec["paths"].items():
        ok = [t for t in e["trials"] if t["ok"]]
        e["latency_s"] = summary([t["latency_s"] for t in ok])
        e["done_s"] = summary([t["done_s"] for t in ok])
        e["dispatch_s"] = summary([t["dispatch_s"] for t in ok])
        e["failures"] = len(e["trials"]) - len(ok)
        steps = [t["steps_ms"] for t in ok if t.get("steps_ms")]
        if steps:
            e["steps_ms"] = {k: summary([s.get(k) for s in steps]) for k in steps[0]}
    ps = sec["paths"]
    def lat(name, key="latency_s"):
        return ps.get(name, {}).get(key)
    btrfs_ref = "dmscale-linear-btrfs" if "btrfs" in FS_LIST else "dmscale-linear-ext4"
    sec["ratios"] = {
        "lvm-ext4 / dmscale-linear-ext4": ratio(lat("lvm-ext4"), lat("dmscale-linear-ext4")),
        "lvm-ext4 / dmscale-daemon-linear-ext4": ratio(lat("lvm-ext4"), lat("dmscale-daemon-linear-ext4")),
        "dmscale-daemon-linear-ext4 / dmscale-linear-ext4": ratio(lat("dmscale-daemon-linear-ext4"),
                                                                  lat("dmscale-linear-ext4")),
        f"btrfs-device-add / {btrfs_ref} (to new size)": ratio(lat("btrfs-device-add"), lat(btrfs_ref)),
        f"btrfs-device-add / {btrfs_ref} (to last command done)":
            ratio(lat("btrfs-device-add", "done_s"), lat(btrfs_ref, "done_s")),
    }
    if "xfs" in FS_LIST:
        sec["ratios"]["lvm-xfs / dmscale-linear-xfs"] = ratio(lat("lvm-xfs"), lat("dmscale-linear-xfs"))
    for fs in [fs for fs in FS_LIST if f"dmscale-thin-{fs}" in ps]:
        sec["ratios"][f"dmscale-thin-{fs} / dmscale-linear-{fs} (to done)"] = ratio(
            ps[f"dmscale-thin-{fs}"]["done_s"], ps[f"dmscale-linear-{fs}"]["done_s"])
    res["attach_latency"] = sec
    return {p.name: p for p in paths}


def section_stall(vm, res, paths):
    """2. Write stall: fio randwrite O_DIRECT libaio QD>1 on the filesystem being
    grown; per-I/O completion latencies inside the attach window."""
    log("section 2: write stall during an attach")
    use = [paths[n] for n in STALL_PATHS if n in paths and paths[n].available]
    # the noise floor of each filesystem: the same writer, no attach
    base = {f"baseline-{fs}": paths[f"dmscale-linear-{fs}"] for fs in ("ext4", "xfs")
            if f"dmscale-linear-{fs}" in paths and paths[f"dmscale-linear-{fs}"].available}
    sec = {"trials_per_path": P["k_stall"], "window_s": P["stall_window_s"], "fio": f"randwrite bs=4k ioengine=libaio iodepth={P['fio_iodepth']} "
           "direct=1 on a 64 MiB file in the grown filesystem; every I/O's completion latency (write_lat_log, "
           "log_avg_msec=0)" + (f", paced at {P['fio_rate_iops']} IOPS" if P["fio_rate_iops"] else ""), "paths": {}}
    for p in use:
        vm.sh(f"fio --name=lay --filename={p.mp}/fio.dat --size=64M --rw=write --bs=1M --direct=1 "
              f"--ioengine=libaio --output=/dev/null", timeout=180)
    rows = list(base) + [p.name for p in use]
    # A container's writer: buffered, sequential, paced under the dirty limits
    # (ext4 rows: LVM's freeze must write back what is dirty, dmscale's path
    # does not freeze). Every row keeps its O_DIRECT twin above.
    for n in ("baseline-ext4", "dmscale-linear-ext4", "lvm-ext4"):
        if n in rows and (not SMOKE or n == "dmscale-linear-ext4"):
            rows.append(n + BUFFERED)
    sec["fio_buffered"] = (f"rows ending in {BUFFERED}: write bs=64k ioengine=psync direct=0 paced at "
                           f"{P['buf_rate_mib']} MiB/s into a new 320 MiB file; every write() call's latency")
    for r in rows:
        sec["paths"][r] = {"trials": []}
    for k in range(P["k_stall"]):
        order = rows[k % len(rows):] + rows[:k % len(rows)]
        if k % 2:                               # who follows whom changes too
            order = order[::-1]
        for name in order:
            plain = name.removesuffix(BUFFERED)
            p = base.get(plain) or paths[plain]
            t = stall_trial(vm, p, attach=plain not in base, tag=f"{k}{name}", buffered=plain != name)
            t["round"] = k
            sec["paths"][name]["trials"].append(t)
            w = t["window"]
            log(f"  round {k} {name}: window {w['span_s']:.2f} s, {w['ios']} I/Os, longest gap "
                f"{w.get('max_gap_ms')} ms at {w.get('max_gap_at_s', 0):.3f} s, p99 {w['p99_us']} µs, "
                f"max {w['max_us']} µs, errors {t['errors']}")
            if t["attach"]:
                log(f"    attach: dispatch {t['attach'].get('dispatch_s')} s, steps {t['attach'].get('steps_ms')}")
    for name, e in sec["paths"].items():
        tr = e["trials"]
        for key in ("max_gap_ms", "p99_us", "p999_us", "max_us"):
            e[key] = summary([t["window"][key] for t in tr])
        e["window_s"] = summary([t["window"]["span_s"] for t in tr])
        e["ios_in_window"] = summary([t["window"]["ios"] for t in tr])
        e["errors"] = sum((t["errors"] or 0) for t in tr)
    ps = sec["paths"]
    sec["ratios"] = {}
    for a, b in (("lvm-ext4", "dmscale-linear-ext4"), ("btrfs-device-add", "dmscale-linear-ext4"),
                 ("dmscale-linear-ext4", "baseline-ext4"), ("lvm-xfs", "dmscale-linear-xfs"),
                 ("dmscale-linear-xfs", "baseline-xfs"), ("lvm-ext4" + BUFFERED, "dmscale-linear-ext4" + BUFFERED),
                 ("dmscale-linear-ext4" + BUFFERED, "baseline-ext4" + BUFFERED)):
        if a in ps and b in ps:
            for key in ("max_gap_ms", "p99_us", "p999_us", "max_us"):
                sec["ratios"][f"{a} / {b} {key.rsplit('_', 1)[0]}"] = ratio(ps[a][key], ps[b][key])
    res["write_stall"] = sec


def section_stall_own_vm(vm, res):
    """2. on a fresh VM: set up only the paths the stall compares, then measure."""
    paths = {}
    for p in s1_paths():
        if p.name in STALL_PATHS:
            p.setup(vm, P["base_gib"] * GIB)
            log(f"  {p.name}: {'ready' if p.available else p.note}")
            paths[p.name] = p
    section_stall(vm, res, paths)


def stall_fio(mp, lat, fjson, buffered):
    """The section-2 writer's fio command line."""
    if buffered:
        job = [f"--filename={mp}/fio-buf.dat", "--size=320M", "--rw=write", "--bs=64k", "--ioengine=psync",
               "--direct=0", f"--rate={P['buf_rate_mib']}m"]
    else:
        job = [f"--filename={mp}/fio.dat", "--size=64M", "--rw=randwrite", "--bs=4k", "--ioengine=libaio",
               f"--iodepth={P['fio_iodepth']}", "--direct=1"]
        if P["fio_rate_iops"]:  # the smoke: a paced writer (each I/O it logs costs the guest CPU to write and parse)
            job.append(f"--rate_iops={P['fio_rate_iops']}")
    return (["/usr/bin/fio", "--name=w"] + job +
            ["--time_based", "--runtime=90", f"--write_lat_log={lat}", "--log_avg_msec=0", "--log_unix_epoch=1",
             "--continue_on_error=all", "--output-format=json", f"--output={fjson}"])


def stall_trial(vm, p, attach, tag, buffered=False):
    lat = f"{RUN}/lat{tag}"
    fjson = f"{RUN}/fio{tag}.json"
    fio = stall_fio(p.mp, lat, fjson, buffered)
    fpid = gstart(vm, fio)
    time.sleep(P["fio_lead_s"])
    # Every row is measured on a window of the same length from the device
    # node's arrival (baseline: from an arbitrary instant), long enough for
    # the slowest path's attach to end inside it.
    span = P["stall_window_s"]
    if attach:
        r = attach_trial(vm, p, P["disk_gib"] * GIB)
        off = r["rt_minus_mono"]
        a = r["t_node"] + off
        r["in_window"] = r["t_exit"] + off <= a + span
    else:
        r = None
        a = float(vm.sh("date +%s.%N"))
    b = a + span
    while float(vm.sh("date +%s.%N")) < b + 0.5:
        time.sleep(0.5)
    vm.run(["kill", "-INT", str(fpid)], check=False)
    gwait(vm, fpid, 60)
    st = gjson(vm, ["/usr/bin/python3", f"{G}/latstats.py", f"{lat}_lat.1.log", fjson, f"win:{a}:{b}"])
    vm.run(["sh", "-c", f"rm -f {lat}_* {fjson}" + (f" {p.mp}/fio-buf.dat" if buffered else "")], check=False)
    return {"window": st["windows"]["win"], "errors": st["errors"], "ios_total": st["ios"],
            "attach": r and {k: r.get(k) for k in ("latency_s", "dispatch_s", "done_s", "ok", "in_window", "steps_ms")}}


# ------------------------------------------------------------------ section 3
def section_scaling(vm, res):
    log("section 3: how cost grows")
    dm = Path("dmscale-linear-ext4", "dmscale", "ext4", tag="grow")
    lv = Path("lvm-ext4", "lvm", "ext4", tag="lvmgrow")
    sec = {"members": P["scale_members"], "checkpoints": P["scale_checkpoints"], "paths": {}}
    for p in (dm, lv):
        p.setup(vm, P["disk_gib"] * GIB)
        sec["paths"][p.name] = {"attach": {}}
    for n in range(2, P["scale_members"] + 1):
        if n in P["scale_checkpoints"]:
            order = (dm, lv) if P["scale_checkpoints"].index(n) % 2 == 0 else (lv, dm)
            for p in order:
                r = attach_trial(vm, p, P["disk_gib"] * GIB)
                sec["paths"][p.name]["attach"][str(n)] = r
                log(f"  member {n} {p.name}: {r['latency_s']:.3f} s")
        else:                                   # untimed: both stacks at once
            for p in (dm, lv):
                attach_trial(vm, p, P["disk_gib"] * GIB, watch=False)
            time.sleep(1.0)
            wait_units_idle(vm, timeout=300)
    n_dm = len(json.loads(vm.sh(f"dmscale status --json --name {dm.pool}"))["members"])
    n_lv = int(vm.sh(f"vgs --noheadings -o pv_count {lv.vg}").strip())
    sec["final_members"] = {dm.name: n_dm, lv.name: n_lv}
    # activation from cold: interleaved, both including the mount
    act = {dm.name: [], lv.name: []}
    for k in range(P["k_assemble"]):
        for p in ((dm, lv) if k % 2 == 0 else (lv, dm)):
            if p is dm:
                vm.sh(f"umount {dm.mp} && dmsetup remove dmscale-{dm.pool} && echo 3 > /proc/sys/vm/drop_caches")
                r = gjson(vm, ["/usr/bin/python3", f"{G}/timeit.py", "dmscale", "assemble", "--name", dm.pool])
            else:
                vm.sh(f"umount {lv.mp} && vgchange -q -an {lv.vg} >/dev/null && echo 3 > /proc/sys/vm/drop_caches")
                r = gjson(vm, ["/usr/bin/python3", f"{G}/timeit.py", "sh", "-c",
                               f"vgchange -q -ay {lv.vg} >/dev/null && mount -o noatime /dev/{lv.vg}/lv {lv.mp}"])
            if r["rc"] != 0:
                raise vmlib.VMError(f"activation failed: {r}")
            act[p.name].append(r["elapsed_s"])
            log(f"  activate {p.name} ({n_dm if p is dm else n_lv} members): {r['elapsed_s']:.3f} s")
    sec["activate_s"] = {k: summary(v) for k, v in act.items()}
    sec["activate_ratio_lvm_over_dmscale"] = ratio(sec["activate_s"][lv.name], sec["activate_s"][dm.name])
    for p in (dm, lv):
        e = sec["paths"][p.name]
        e["latency_s"] = {n: e["attach"][n]["latency_s"] for n in e["attach"]}
    sec["attach_ratio_lvm_over_dmscale"] = {
        n: (sec["paths"][lv.name]["latency_s"][n] / sec["paths"][dm.name]["latency_s"][n])
        for n in sec["paths"][dm.name]["latency_s"] if n in sec["paths"][lv.name]["latency_s"]}
    if P["reboot"]:
        vm.reboot(boot_timeout=300)
        after_boot(vm)
        vm.wait_for(f"mountpoint -q {dm.mp}", timeout=180)
        out = vm.sh("systemctl show -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic "
                    "dmscale-assemble.service")
        p = dict(line.split("=", 1) for line in out.strip().splitlines() if "=" in line)
        boot = {"dmscale-assemble.service_s": (int(p["ExecMainExitTimestampMonotonic"]) -
                                               int(p["ExecMainStartTimestampMonotonic"])) / 1e6}
        # lvm2 autoactivates the VG from udev (pvscan, then lvm-activate-VG.service)
        ls, le, _ = journal_unit(vm, f"lvm-activate-{lv.vg}.service")
        if ls is not None and le is not None:
            boot[f"lvm-activate-{lv.vg}.service_s"] = le - ls
        sec["boot"] = boot
        log(f"  boot: {boot}")
    res["scaling"] = sec


def section_flat(vm, res):
    """3b. Flatness: dmscale's attach into a pool of flat_small members against
    one of flat_large members, same VM, trials interleaved (small, large,
    large, small, ...). Each trial adds a member, so trial k runs at
    flat_small + k and flat_large + k members."""
    log("section 3b: attach at 2 against 26 members")
    small = Path("dmscale-linear-ext4", "dmscale", "ext4", tag="flats")
    large = Path("dmscale-linear-ext4", "dmscale", "ext4", tag="flatl")
    sec = {"small_members": P["flat_small"], "large_members": P["flat_large"], "trials": {"small": [], "large": []}}
    for p, n in ((small, P["flat_small"]), (large, P["flat_large"])):
        p.setup(vm, P["disk_gib"] * GIB)
        for _ in range(n - 1):                  # untimed
            attach_trial(vm, p, P["disk_gib"] * GIB, watch=False)
            time.sleep(0.5)
        end = time.monotonic() + 300
        while True:                             # every hot-plugged disk's unit has run
            wait_units_idle(vm, timeout=300)
            got = len(json.loads(vm.sh(f"dmscale status --json --name {p.pool}"))["members"])
            if got == n:
                break
            if time.monotonic() > end:
                raise vmlib.VMError(f"pool {p.pool}: {got} members, expected {n}:\n" + vm.sh(
                    "journalctl -b -u 'dmscale-attach@*' --no-pager -o cat | grep -iE 'error|warn|refus' | tail -20"))
            time.sleep(1.0)
    for k in range(P["k_flat"]):
        for which, p in ((("small", small), ("large", large)) if k % 2 == 0 else (("large", large), ("small", small))):
            r = attach_trial(vm, p, P["disk_gib"] * GIB)
            r["members_before"] = (P["flat_small"] if which == "small" else P["flat_large"]) + k
            sec["trials"][which].append(r)
            log(f"  round {k} {which} ({r['members_before']} members): {r['latency_s']:.3f} s"
                f"{'' if r['ok'] else ' FAILED'} steps {r.get('steps_ms')}")
            time.sleep(0.5)
    for which in ("small", "large"):
        ok = [t for t in sec["trials"][which] if t["ok"]]
        sec[f"{which}_latency_s"] = summary([t["latency_s"] for t in ok])
        steps = [t["steps_ms"] for t in ok if t.get("steps_ms")]
        sec[f"{which}_steps_ms"] = {k: summary([s.get(k) for s in steps]) for k in (steps[0] if steps else {})}
    res["flat"] = sec


# ------------------------------------------------------------------ daemon sections (4, 5, 7)
def make_bed(make_vm, **simkw):
    b = Bed(make_vm, smithy_verify=False, **simkw)
    return b


def start_bed(b):
    """Bed.start with a boot timeout for a loaded host."""
    b.vm.start(boot_timeout=600)
    b.vm.run(["systemctl", "start", "systemd-networkd"])
    b.vm.wait_for("ip -4 -o addr show dev eth0 | grep -q 'inet '", timeout=90)
    install_bench(b.vm)


def host_guest_offset(vm, n=7):
    """guest CLOCK_REALTIME - host time.time(), from the guest-get-time sample with
    the smallest round trip (error <= rtt/2)."""
    best = None
    for _ in range(n):
        a = time.time()
        g = vm.qga.call("guest-get-time") / 1e9
        b = time.time()
        if best is None or b - a < best[0]:
            best = (b - a, g - (a + b) / 2)
    return best[1], best[0]


def record_create_times(sim):
    times = []
    orig = sim._faults

    def faults(action):
        times.append((time.time(), action))
        return orig(action)
    sim._faults = faults
    return times


def daemon_cfg(pool, mp, **over):
    cfg = json.loads(daemon_config(pool=pool, mountpoint=mp, poll_interval_ms=1000, min_free_bytes=512 * MIB,
                                   min_free_percent=10, initial_volume_gib=1, min_volume_gib=1, max_volume_gib=2,
                                   max_volumes=20, max_total_gib=128, growth_percent=25, fill_horizon_s=60,
                                   attach_timeout_s=120))
    cfg.update(over)
    return json.dumps(cfg, indent=2)


def start_daemon(vm, pool, mp, unit, **over):
    cfgp = f"/etc/dmscale/{pool}.json"
    vm.write_file(cfgp, daemon_cfg(pool, mp, **over))
    vm.run(["systemd-run", f"--unit={unit}", "-p", "CPUAccounting=yes", "/usr/sbin/dmscale", "daemon",
            "--config", cfgp])
    vm.wait_for(f"journalctl -u {unit} -o cat | grep -q 'EC2: instance'", timeout=60, interval=0.5)


def daemon_idle(vm, pool, timeout=120):
    end = time.monotonic() + timeout
    while True:
        try:
            st = json.loads(vm.sh(f"cat /run/dmscale/{pool}.daemon.json"))
            pend = vm.sh(f"cat /var/lib/dmscale/{pool}/pending 2>/dev/null || true").strip()
            if st["in_flight"] == 0 and not st["needed"] and not pend:
                return st
        except (ValueError, vmlib.VMError):
            pass
        if time.monotonic() > end:
            raise vmlib.VMError(f"daemon for {pool} not idle: " +
                                vm.sh("journalctl -b --no-pager -o cat | grep -i dmscale | tail -20"))
        time.sleep(0.5)


def init_pool(vm, pool, mp, nbytes, fs="ext4", target="linear"):
    d, dev = add_disk(vm, nbytes)
    wait_units_idle(vm)
    argv = ["dmscale", "init", "--name", pool, "--mountpoint", mp, "--fs", fs]
    if target == "thin":
        argv += ["--target", "thin", "--virtual-size", "64G"]
    rc, out, err = vm.run(argv + [dev], timeout=180, check=False)
    if rc != 0 or vm.run(["mountpoint", "-q", mp], check=False)[0] != 0:
        return None, (err.strip().splitlines() or ["?"])[-1][:200]
    return d, None


def section_reaction(b, res):
    log("section 4: reaction (threshold crossed -> CreateVolume at the simulator)")
    vm, sim = b.vm, b.sim
    times = record_create_times(sim)
    mp, pool = "/bench/react", "react"
    init_pool(vm, pool, mp, 2 * GIB)
    start_daemon(vm, pool, mp, "bench-daemon-react")
    vm.run(["systemd-run", "--unit=bench-seed-detect", "/bin/sh", f"{G}/seedloop.sh", mp, "detect", "2", "90",
            f"{RUN}/seed-detect"])
    sec = {"poll_interval_ms": 1000, "seed_interval_s": 2, "trials": []}
    rng = random.Random(6)
    for k in range(P["k_react"]):
        daemon_idle(vm, pool)
        vm.sh(f"touch {RUN}/seed-detect.armed")
        st = json.loads(vm.sh(f"cat /run/dmscale/{pool}.daemon.json"))
        total = st["size_bytes"]
        free_after = int(0.5 * min(st["threshold_bytes"], 0.1 * total))
        time.sleep(rng.uniform(0, 2.0))             # random phase against both poll loops
        off, rtt = host_guest_offset(vm)
        n0 = len(times)
        c = gjson(vm, ["/usr/bin/python3", f"{G}/cross.py", mp, str(free_after), f"cross{k}"])
        end = time.monotonic() + 30
        t_create = None
        while time.monotonic() < end and t_create is None:
            t_create = next((t for t, a in times[n0:] if a == "CreateVolume"), None)
            time.sleep(0.02)
        t_cross_host = c["t_cross_rt"] - off
        r = {"reaction_s": (t_create - t_cross_host) if t_create else None, "clock_rtt_s": rtt,
             "fallocate_s": c["t_cross_rt"] - c["t_before_rt"]}
        try:
            vm.wait_for(f"test ! -e {RUN}/seed-detect.armed", timeout=10, interval=0.5)
            lines = vm.sh(f"cat {RUN}/seed-detect").split()
            r["seed_detect_s"] = float(lines[-1]) - c["t_cross_rt"]
        except vmlib.VMError:
            r["seed_detect_s"] = None
        sec["trials"].append(r)
        log(f"  trial {k}: dmscale {r['reaction_s']} s, seed loop detects after {r['seed_detect_s']} s "
            f"(clock rtt {rtt * 1000:.1f} ms)")
    daemon_idle(vm, pool)
    sec["dmscale_reaction_s"] = summary([t["reaction_s"] for t in sec["trials"]])
    sec["seed_detect_s"] = summary([t["seed_detect_s"] for t in sec["trials"]])
    sec["ratio_seed_detect_over_dmscale_create"] = ratio(sec["seed_detect_s"], sec["dmscale_reaction_s"])
    vm.run(["systemctl", "stop", "bench-daemon-react", "bench-seed-detect"], check=False, timeout=120)
    res["reaction"] = sec


def seed_cost_model(s0, used):
    """The seed's sizing (bin/ebs-autoscale calc_threshold/calc_new_size: add
    150/300/1000/1500 GiB when use% >= 50/80/90 %), scaled by s0 / 200 GiB."""
    scale = s0 / (200 * GIB)
    total, n = s0, 1
    while True:
        thr = 50 if n < 4 else 80 if n <= 6 else 90
        if used * 100 < thr * total:
            return total, n - 1
        size = 150 if n < 4 else 300 if n <= 6 else 1000 if n <= 10 else 1500
        total += size * GIB * scale
        n += 1


def section_cost(b, res):
    log("section 7: cost (reference fill trace)")
    vm, sim = b.vm, b.sim
    mp, pool = "/bench/trace", "trace"
    s0 = P["trace_s0_gib"] * GIB
    init_pool(vm, pool, mp, s0)
    n0 = len(sim.calls)
    start_daemon(vm, pool, mp, "bench-daemon-trace")
    tr = P["trace"]
    t0 = time.monotonic()
    out = vm.sh(f"{G}/trace.sh {mp} {tr['nbig']} {tr['bigmib']} {tr['nsmall']} {tr['smallkib']}", timeout=900)
    dur = time.monotonic() - t0
    errors = int(re.search(r"errors (\d+)", out).group(1))
    daemon_idle(vm, pool, timeout=180)
    st = json.loads(vm.sh(f"dmscale status --json --name {pool}"))
    provisioned = sum(m["size_bytes"] for m in st["members"])
    used = st["filesystem"]["used_bytes"]
    calls = [a for a, _ in sim.calls[n0:]]
    created = calls.count("CreateVolume")
    by = {}
    for a in calls:
        by[a] = by.get(a, 0) + 1
    seed_total, seed_added = seed_cost_model(s0, used)
    sec = {"trace": tr, "initial_bytes": s0, "written_bytes": tr["nbig"] * tr["bigmib"] * MIB +
           tr["nsmall"] * tr["smallkib"] * 1024, "write_errors": errors, "duration_s": dur,
           "members": len(st["members"]), "provisioned_bytes": provisioned, "used_bytes": used,
           "provisioned_over_used": provisioned / used if used else None,
           "volumes_added": created, "api_calls": len(calls), "api_calls_by_action": by,
           "api_calls_per_volume": len(calls) / created if created else None,
           "seed_model": {"provisioned_bytes": seed_total, "volumes_added": seed_added,
                          "provisioned_over_used": seed_total / used if used else None,
                          "api_calls_per_volume_min": 7,
                          "note": "replayed from the seed's code on the same final used bytes, sizes scaled by "
                                  "initial/200 GiB; API calls from its create-ebs-volume: 3 DescribeVolumes checks, "
                                  "CreateVolume, >= 1 DescribeVolumes (aws ec2 wait, 15 s polls), AttachVolume, "
                                  "ModifyInstanceAttribute"}}
    sec["ratio_seed_over_dmscale_provisioned"] = (seed_total / provisioned) if provisioned else None
    log(f"  provisioned/used {sec['provisioned_over_used']:.2f} (seed model "
        f"{sec['seed_model']['provisioned_over_used']:.2f}); {len(calls)} API calls for {created} volume(s); "
        f"{errors} write errors")
    vm.run(["systemctl", "stop", "bench-daemon-trace"], check=False, timeout=120)
    res["cost"] = sec


def race_trial(b, n, target, rate):
    vm = b.vm
    pool, mp = f"race{n}", f"/bench/race{n}"
    s0 = P["race_s0_gib"] * GIB
    d, err = init_pool(vm, pool, mp, s0, target=target)
    if d is None:
        return {"available": False, "note": "not available in this build: " + err}
    unit = f"bench-daemon-{pool}"
    start_daemon(vm, pool, mp, unit, min_free_bytes=256 * MIB, max_volume_gib=8, max_volumes=8,
                 attach_timeout_s=180)
    total = int(P["race_fill_x"] * s0)
    mode = "alloc" if target == "linear" else "data"
    w = gjson(vm, ["/usr/bin/python3", f"{G}/writer.py", f"{mp}/fill", str(total), str(rate * MIB), "15", mode],
              timeout=int(total / (rate * MIB)) + 200)
    logtxt = vm.sh(f"journalctl -u {unit} -o cat --no-pager")
    vm.run(["systemctl", "stop", unit], check=False, timeout=200)
    m = re.search(r"provisioning a (\d+) GiB volume \(([\w-]+): free ([\d.]+) (MiB|GiB)", logtxt)
    free_at = None
    if m:
        free_at = float(m.group(3)) * (MIB if m.group(4) == "MiB" else GIB)
    # passes: every byte, no error, no step blocked >= 3 s (a thin pool out of
    # space queues I/O: a stall, not an error)
    ok = w["error"] is None and w["bytes"] >= total and w["slowest_step_s"] < 3.0
    w["machine_limited"] = w["achieved_bps"] < 0.9 * rate * MIB
    vols = re.findall(r"provisioning a (\d+) GiB volume", logtxt)
    r = {"available": True, "rate_mib_s": rate, "ok": ok, "writer": w, "free_at_trigger_bytes": free_at,
         "first_reason": m.group(2) if m else None, "volumes_gib": [int(x) for x in vols]}
    vm.run(["sh", "-c", f"umount {mp}; dmsetup remove dmscale-{pool} || true"], check=False, timeout=60)
    return r


def section_race(b, res, targets=("linear", "thin")):
    log(f"section 5: fill race (attach latency {P['race_latency_s']} s)")
    b.sim.attach_latency_s = P["race_latency_s"]
    s0 = P["race_s0_gib"] * GIB
    sec = {"attach_latency_s": P["race_latency_s"], "initial_bytes": s0, "fill_bytes": int(P["race_fill_x"] * s0),
           "poll_interval_ms": 1000, "targets": {}}
    n = 0
    for target in targets:
        e = {"trials": []}
        sec["targets"][target] = e
        bound_guess = 0.9 * s0 / MIB / P["race_latency_s"]        # MiB/s: ~free at start / latency
        if target == "linear":
            rate, lo, hi, ntr = (0.8 * bound_guess if not SMOKE else 64.0), None, None, P["race_trials"]
        else:   # real data writes: the TCG guest writes ~20-40 MiB/s, one trial at a rate it can hold
            rate, lo, hi, ntr = float(P["thin_rate"]), None, None, 1
        e["writer"] = "4 MiB posix_fallocate steps" if target == "linear" else "1 MiB O_DIRECT writes"
        for i in range(ntr):
            rate = max(4.0, round(rate))
            r = race_trial(b, n, target, rate)
            n += 1
            if not r["available"]:
                e.update(available=False, note=r["note"])
                break
            e["trials"].append(r)
            log(f"  {target} {rate} MiB/s: {'ok' if r['ok'] else 'FAILED'} ({r['writer']['error']}, "
                f"{r['writer']['bytes'] / MIB:.0f} MiB, achieved {r['writer']['achieved_bps'] / MIB:.1f} MiB/s, "
                f"free at trigger {r['free_at_trigger_bytes']}, volumes {r['volumes_gib']})")
            if r["ok"] and r["writer"]["machine_limited"]:
                lo = rate if lo is None else max(lo, rate)
                e["machine_limited"] = True
                break
            if r["ok"]:
                lo = rate if lo is None else max(lo, rate)
                rate = (lo + hi) / 2 if hi else rate * 1.5
            else:
                hi = rate if hi is None else min(hi, rate)
                rate = (lo + hi) / 2 if lo else rate / 2
        if not e["trials"]:
            continue
        e["available"] = True
        e["fastest_ok_mib_s"] = lo
        e["slowest_failed_mib_s"] = hi
        frees = [t["free_at_trigger_bytes"] for t in e["trials"] if t["free_at_trigger_bytes"]]
        e["free_at_trigger_bytes"] = summary(frees)
        if frees and lo:
            bound = summary(frees)["median"] / MIB / P["race_latency_s"]
            e["physical_bound_mib_s"] = bound
            e["fraction_of_bound"] = lo / bound
    res["fill_race"] = sec


def section_footprint(b, res):
    log(f"section 6: daemon footprint over {P['idle_s']} idle seconds")
    vm = b.vm
    mp, pool = "/bench/idle", "idle"
    init_pool(vm, pool, mp, 2 * GIB)
    start_daemon(vm, pool, mp, "bench-daemon-idle")
    units = {"dmscale daemon (poll 1 s)": ("bench-daemon-idle", 1.0),
             "seed: df every 2 s": ("bench-seed-df", 2.0),
             "seed: its loop body every 2 s": ("bench-seed-body", 2.0)}
    vm.run(["systemd-run", "--unit=bench-seed-df", "-p", "CPUAccounting=yes", "/bin/sh", f"{G}/seedloop.sh", mp,
            "df", "2"])
    vm.run(["systemd-run", "--unit=bench-seed-body", "-p", "CPUAccounting=yes", "/bin/sh", f"{G}/seedloop.sh",
            mp, "body", "2"])
    time.sleep(3)

    def sample():
        q = " ".join(u for u, _ in units.values())
        out = vm.sh(f"cat /proc/uptime; for u in {q}; do systemctl show -p CPUUsageNSec --value $u; done")
        lines = out.split("\n")
        return float(lines[0].split()[0]), [int(x) for x in lines[1:1 + len(units)]]

    t0, c0 = sample()
    time.sleep(P["idle_s"])
    t1, c1 = sample()
    sec = {"idle_s": t1 - t0, "rows": {}}
    pids = {}
    for i, (name, (u, iv)) in enumerate(units.items()):
        pid = vm.sh(f"systemctl show -p MainPID --value {u}").strip()
        pids[name] = pid
        rss = vm.sh(f"awk '/^VmRSS|^VmHWM/ {{print $2}}' /proc/{pid}/status").split()
        sec["rows"][name] = {"interval_s": iv, "cpu_s": (c1[i] - c0[i]) / 1e9,
                             "cpu_percent": 100 * (c1[i] - c0[i]) / 1e9 / (t1 - t0),
                             "rss_kib": int(rss[0]), "hwm_kib": int(rss[1])}
    # the forked df's own peak RSS (the loops' transient cost)
    sec["df_child_maxrss_kib"] = int(vm.sh(
        "python3 -c 'import resource,subprocess; subprocess.run([\"df\",\"" + mp + "\"],stdout=subprocess.DEVNULL);"
        " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)'").strip())
    # syscalls per tick: strace -c -f attached to all three at once
    spids = {}
    for name, pid in pids.items():
        spids[name] = gstart(vm, ["/usr/bin/strace", "-c", "-f", "-q", "-p", pid, "-o", f"{RUN}/strace.{pid}"])
    time.sleep(P["strace_s"])
    for name, sp in spids.items():
        vm.run(["kill", "-INT", str(sp)], check=False)
    for name, sp in spids.items():
        gwait(vm, sp, 30)
        txt = vm.sh(f"cat {RUN}/strace.{pids[name]}")
        m = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(\d+)?\s*total", txt, re.M)
        calls = int(m.group(1)) if m else None
        row = sec["rows"][name]
        row["strace_s"] = P["strace_s"]
        row["syscalls"] = calls
        row["syscalls_per_tick"] = calls / (P["strace_s"] / row["interval_s"]) if calls is not None else None
        forks = sum(int(x) for x in re.findall(
            r"^\s*[\d.]+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?(?:clone|clone3|fork|vfork)\s*$", txt, re.M))
        row["forks_per_tick"] = forks / (P["strace_s"] / row["interval_s"])
        row["cpu_ms_per_tick"] = 1000 * row["cpu_s"] / (sec["idle_s"] / row["interval_s"])
        log(f"  {name}: CPU {row['cpu_percent']:.3f} %, RSS {row['rss_kib']} KiB, {row['syscalls_per_tick']} syscalls/tick")
    d = sec["rows"]["dmscale daemon (poll 1 s)"]
    s = sec["rows"]["seed: df every 2 s"]
    sec["ratios"] = {"seed df loop / dmscale CPU %": s["cpu_percent"] / d["cpu_percent"] if d["cpu_percent"] else None,
                     "seed df loop / dmscale CPU per tick": s["cpu_ms_per_tick"] / d["cpu_ms_per_tick"]
                     if d["cpu_ms_per_tick"] else None,
                     "seed df loop / dmscale syscalls per tick": (s["syscalls_per_tick"] / d["syscalls_per_tick"])
                     if d.get("syscalls_per_tick") and s.get("syscalls_per_tick") else None}
    vm.run(["systemctl", "stop", "bench-seed-df", "bench-seed-body", "bench-daemon-idle"], check=False, timeout=120)
    res["footprint"] = sec


# ------------------------------------------------------------------ orchestration
class Runner:
    def __init__(self, workdir, image):
        self.workdir, self.image = workdir, image
        self.vms = []
        self.lock = threading.Lock()

    def make_vm(self, **kw):
        with self.lock:
            d = os.path.join(self.workdir, f"vm{len(self.vms)}")
            # 2 vCPUs whatever the test bed's default (DMSCALE_VM_SMP): the
            # figures are for a guest where the writer and the attach do not
            # share one vCPU (the smoke too: on one, the guest agent queued
            # behind fio and the smoke took longer)
            kw.setdefault("smp", 2)
            v = vmlib.VM(d, self.image, mem_mib=1536, timeout_s=3600, **kw)
            self.vms.append(v)
        return v

    def kill_all(self):
        for v in self.vms:
            v.kill()


# ------------------------------------------------------------------ section 8
def usage_bytes(vm, p):
    """What the daemon provisions against: linear, the filesystem's used bytes
    (statvfs); thin, the pool's allocated data blocks."""
    _, out, _ = vm.run(["dmscale", "status", "--json", "--name", p.pool])
    st = json.loads(out)
    if p.target == "thin":
        return st["pool"]["data_used_bytes"]
    return st["filesystem"]["used_bytes"]


def reclaim_trial(vm, p, mib, tag):
    """Write mib MiB in 4 files, delete two; how much of it the daemon's usage
    figure gives back, and how fast."""
    part = mib // 4
    d = f"{p.mp}/reclaim{tag}"
    vm.sh(f"mkdir -p {d}; for i in 0 1 2 3; do dd if=/dev/urandom of={d}/f$i bs=1M count={part} "
          f"oflag=direct status=none; done; sync", timeout=300)
    time.sleep(1)
    u0 = usage_bytes(vm, p)
    t0 = time.monotonic()
    vm.sh(f"rm {d}/f0 {d}/f1; sync")
    deleted = 2 * part * MIB
    u1, t_stable = u0, None
    while time.monotonic() - t0 < 30:
        u = usage_bytes(vm, p)
        if u0 - u >= 0.95 * deleted and t_stable is None:
            t_stable = time.monotonic() - t0
        u1 = u
        if t_stable is not None:
            break
        time.sleep(0.5)
    vm.sh(f"rm -rf {d}; sync")
    return {"deleted_bytes": deleted, "usage_before": u0, "usage_after": u1,
            "reclaimed_fraction": (u0 - u1) / deleted, "seconds_to_95pct": t_stable}


def section_thin_vs_linear(vm, res):
    """8. dm-thin against dm-linear (ext4), same VM, interleaved: write stall
    during an attach, and space given back after deleting half the data."""
    log("section 8: thin vs linear")
    ps = [Path("dmscale-linear-ext4", "dmscale", "ext4", "linear", tag="cmplin"),
          Path("dmscale-thin-ext4", "dmscale", "ext4", "thin", tag="cmpthin")]
    sec = {"trials": P["k_stall"], "paths": {}}
    for p in ps:
        p.setup(vm, 2 * P["base_gib"] * GIB)
        sec["paths"][p.name] = {"available": p.available, "note": p.note, "stall": [], "reclaim": []}
        if p.available:
            vm.sh(f"fio --name=lay --filename={p.mp}/fio.dat --size=64M --rw=write --bs=1M --direct=1 "
                  f"--ioengine=libaio --output=/dev/null", timeout=180)
    live = [p for p in ps if p.available]
    for k in range(P["k_stall"]):
        for p in (live if k % 2 == 0 else live[::-1]):
            t = stall_trial(vm, p, attach=True, tag=f"8{k}{p.tag}")
            sec["paths"][p.name]["stall"].append(t)
            w = t["window"]
            log(f"  round {k} {p.name}: stall window {w['span_s']:.2f} s, max {w['max_us']} µs, errors {t['errors']}")
    for k in range(P["k_stall"]):
        for p in (live if k % 2 == 0 else live[::-1]):
            r = reclaim_trial(vm, p, 64 if SMOKE else 512, f"{k}")
            sec["paths"][p.name]["reclaim"].append(r)
            log(f"  round {k} {p.name}: reclaimed {r['reclaimed_fraction']:.2f} of the deleted bytes "
                f"in {r['seconds_to_95pct']} s")
    for name, e in sec["paths"].items():
        if not e["stall"]:
            continue
        for key in ("p99_us", "p999_us", "max_us"):
            e[key] = summary([t["window"][key] for t in e["stall"]])
        e["window_s"] = summary([t["window"]["span_s"] for t in e["stall"]])
        e["attach_done_s"] = summary([t["attach"]["done_s"] for t in e["stall"] if t["attach"]])
        e["errors"] = sum((t["errors"] or 0) for t in e["stall"])
        e["reclaimed_fraction"] = summary([r["reclaimed_fraction"] for r in e["reclaim"]])
        e["seconds_to_95pct"] = summary([r["seconds_to_95pct"] for r in e["reclaim"]
                                         if r["seconds_to_95pct"] is not None])
    L, T = sec["paths"].get("dmscale-linear-ext4"), sec["paths"].get("dmscale-thin-ext4")
    sec["ratios"] = {}
    if L and T and L.get("max_us") and T.get("max_us"):
        for key in ("p99_us", "p999_us", "max_us"):
            sec["ratios"][f"thin / linear stall {key[:-3]}"] = ratio(T[key], L[key])
        sec["ratios"]["thin / linear attach (to done)"] = ratio(T["attach_done_s"], L["attach_done_s"])
    res["thin_vs_linear"] = sec


def fio_seq_write(vm, dev, tag):
    """One direct sequential write over the first istore_write_mib of `dev`; MiB/s."""
    fjson = f"{RUN}/istore{tag}.json"
    vm.sh(f"fio --name=w --filename={dev} --offset=0 --size={P['istore_write_mib']}M --rw=write --bs=1M "
          f"--ioengine=libaio --iodepth={P['istore_iodepth']} --direct=1 --output-format=json "
          f"--output={fjson}", timeout=600)
    j = json.loads(vm.sh(f"cat {fjson}; rm -f {fjson}"))
    return j["jobs"][0]["write"]["bw_bytes"] / MIB


def section_istore(vm_factory, res):
    """11. Instance-store tier (issue 16): direct sequential write throughput on
    the striped first segment (2 instance-store disks, dm-stripe) against a
    single-member linear pool, both in one VM, interleaved A,B,B,A,..."""
    from test_instance_store import install_rule, istore_disks   # tests/vm: the udev rule that makes QEMU
    log("section 11: instance-store stripe vs single member")       # disks look like EC2 instance storage
    gib = P["disk_gib"] * GIB
    vm = vm_factory()
    ist = istore_disks(vm, 2, gib)
    ebs, single = vm.new_disk(gib), vm.new_disk(gib)
    vm.start(cold_disks=ist + [ebs, single], boot_timeout=600)
    try:
        res["meta"].setdefault("guest_kernel", guest_kernel(vm))
        install_rule(vm)
        vm.run(["mkdir", "-p", RUN, "/bench/isa", "/bench/isb"])
        vm.run(["dmscale", "init", "--name", "isa", "--mountpoint", "/bench/isa", "--instance-store", "auto",
                nvme_by_serial(vm, ebs.serial)], timeout=300)
        vm.run(["dmscale", "init", "--name", "isb", "--mountpoint", "/bench/isb", "--instance-store", "off",
                nvme_by_serial(vm, single.serial)], timeout=300)
        tables = {n: vm.sh(f"dmsetup table dmscale-{n}").strip().splitlines() for n in ("isa", "isb")}
        # the raw pool devices, filesystems unmounted: offset 0 lies in the first segment
        vm.sh("umount /bench/isa /bench/isb")
        paths = {"striped": "/dev/mapper/dmscale-isa", "single": "/dev/mapper/dmscale-isb"}
        stripe_bytes = int(tables["isa"][0].split()[1]) * 512
        sec = {"trials_per_pool": P["k_istore"], "write_mib": P["istore_write_mib"], "iodepth": P["istore_iodepth"],
               "disk_gib": P["disk_gib"], "tables": tables, "stripe_segment_bytes": stripe_bytes,
               "striped_segment": tables["isa"][0].split()[2] == "striped",
               "fio": f"rw=write bs=1M ioengine=libaio iodepth={P['istore_iodepth']} direct=1 offset=0 "
                      f"size={P['istore_write_mib']}M on the pool's dm device (filesystem unmounted)",
               "pools": {"striped": {"desc": "2 instance-store disks (dm-stripe, 256 KiB chunks) + 1 EBS (linear)",
                                     "mib_s": []},
                         "single": {"desc": "1 disk, --instance-store off (dm-linear)", "mib_s": []}}}
        for n, dev in paths.items():          # lay down once: no trial pays the sparse images' first allocation
            fio_seq_write(vm, dev, f"lay{n}")
        for k in range(P["k_istore"]):
            for n in (("striped", "single") if k % 2 == 0 else ("single", "striped")):
                v = fio_seq_write(vm, paths[n], f"{k}{n}")
                sec["pools"][n]["mib_s"].append(v)
                log(f"  round {k} {n}: {v:.1f} MiB/s")
        for e in sec["pools"].values():
            e["summary"] = summary(e["mib_s"])
        sec["striped_over_single"] = ratio(sec["pools"]["striped"]["summary"], sec["pools"]["single"]["summary"])
        res["istore"] = sec
    finally:
        vm.kill()


def guarded(name, res, fn, *a):
    try:
        fn(*a)
    except Exception as e:  # noqa: BLE001 - a broken section is recorded, the rest still runs
        traceback.print_exc()
        res.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:2000]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--doc", default=os.path.join(PROJECT, "docs", "BENCHMARKS.md"))
    ap.add_argument("--keep", action="store_true", help="keep the VM work directory")
    ap.add_argument("--only", choices=["thin_vs_linear", "flat", "seed", "istore", "replay_check", "write_stall"],
                    help="run one section and merge it into the existing --out, then re-render")
    ap.add_argument("--targets", action="store_true",
                    help="only what issue 14's targets need (sections 1 and 2 on ext4 and xfs, 3b), merged into "
                         "the existing --out: the other sections keep their older run, labelled as such")
    ap.add_argument("--dirty", action="store_true", help="measure an uncommitted tree (recorded as dirty)")
    args = ap.parse_args()
    # what `make bench` itself writes before and by this script is output, not a change to what is measured
    outputs = {"bench/results-cost.json", "bench/results.json", "docs/BENCHMARKS.md"}
    changed = subprocess.run(["git", "-C", PROJECT, "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True).stdout.splitlines()
    dirty = any(ln[3:].strip() not in outputs for ln in changed if ln.strip())
    if dirty and not args.dirty:
        log("the tree has uncommitted changes: commit them (results name the commit) or pass --dirty")
        return 2
    global FS_LIST, TARGETS
    if args.targets and not SMOKE:
        FS_LIST = ["ext4", "xfs"]
        TARGETS = True
    t_all = time.monotonic()
    image = os.path.join(vmlib.VMDIR, "bench-installed.img")
    secs = vmlib.build_installed_image(image)
    log(f"installed image built in {secs:.1f} s")
    workdir = tempfile.mkdtemp(prefix="dmscale-bench-", dir=os.path.join(vmlib.BUILD))
    run = Runner(workdir, image)
    res = {"meta": {
        "command": ("BENCH_SMOKE=1 " if SMOKE else "") + "make bench",
        "smoke": SMOKE, "params": P, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "qemu": subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
        "host_kernel": platform.release(), "host_cpus": os.cpu_count(),
        "host_cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
        "loadavg_start": os.getloadavg(),
        "guest_kernel_image": os.path.basename(vmlib.kernel_path()), "guest_cpu_model": vmlib.CPU,
        "dmscale_commit": subprocess.run(["git", "-C", PROJECT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True).stdout.strip(),
        "dirty": dirty,
    }}
    if args.targets:
        with open(args.out) as fh:
            old = json.load(fh)
        kept = [k for k in old if k not in ("meta", "summary", "attach_latency", "write_stall", "flat", "errors")]
        for k in kept:
            res[k] = old[k]
        res["meta"]["partial"] = (f"sections attach_latency, write_stall, flat from commit "
                                  f"{res['meta']['dmscale_commit']} (make bench BENCH_ARGS=--targets); "
                                  f"{', '.join(kept) or 'nothing else'} kept from commit "
                                  f"{old.get('meta', {}).get('dmscale_commit')}")
        res["meta"]["command"] = "make bench BENCH_ARGS=--targets"
    if args.only:
        with open(args.out) as fh:
            old = json.load(fh)
        meta = old.setdefault("meta", {})
        if meta.get(f"{args.only}_commit"):        # a section re-run in part (SEED_PHASES) names both runs
            meta[f"{args.only}_previous_commit"] = meta[f"{args.only}_commit"]
        meta[f"{args.only}_commit"] = res["meta"]["dmscale_commit"]
        meta.pop(f"{args.only}_previous_error", None)
        prev_err = old.get("errors", {}).pop(args.only, None)
        if prev_err:
            meta[f"{args.only}_previous_error"] = prev_err.splitlines()[0][:300]
        if not old.get("errors"):
            old.pop("errors", None)
        rerun = f"{args.only} re-run at commit {res['meta']['dmscale_commit']} (--only)"
        if old["meta"].get("partial"):
            old["meta"]["partial"] += f"; {rerun}"
        else:                   # a merge is labelled as one, whatever it merges into
            old["meta"]["partial"] = f"{rerun}; every other section from commit {old['meta'].get('dmscale_commit')}"
        res = old
    try:
        if args.only == "seed":
            import seed         # amazon-ebs-autoscale itself, beside dmscale (bench/seed.py)
            guarded("seed", res, seed.run, sys.modules[__name__], res)
        elif args.only == "istore":
            guarded("istore", res, section_istore, run.make_vm, res)
        elif args.only == "replay_check":
            import replay_check     # 7b: the cost replay checked against the VM (bench/replay_check.py)
            guarded("replay_check", res, replay_check.run, sys.modules[__name__], run.make_vm, res)
        elif args.targets:
            b1 = make_bed(run.make_vm)          # a bed: the daemon's row needs the EC2 simulator
            start_bed(b1)
            v = b1.vm
            res["meta"]["guest_kernel"] = guest_kernel(v)

            def s12t():
                paths = section_attach(v, res)
                section_stall(v, res, paths)
            guarded("attach_latency", res, s12t)
            v.kill()
            b1.stop()
            v = run.make_vm()
            v.start(boot_timeout=600)
            install_bench(v)
            guarded("flat", res, section_flat, v, res)
            v.kill()
        elif args.only:
            v = run.make_vm()
            v.start(boot_timeout=600)
            install_bench(v)
            guarded(args.only, res, {"thin_vs_linear": section_thin_vs_linear, "flat": section_flat,
                                           "write_stall": section_stall_own_vm}[args.only],
                    v, res)
            v.kill()
        elif SMOKE:
            b = make_bed(run.make_vm)
            start_bed(b)
            res["meta"]["guest_kernel"] = guest_kernel(b.vm)
            paths = {}

            def s12():
                paths.update(section_attach(b.vm, res))
                section_stall(b.vm, res, paths)
            guarded("attach_latency", res, s12)
            guarded("reaction", res, section_reaction, b, res)
            guarded("cost", res, section_cost, b, res)
            guarded("fill_race", res, section_race, b, res)
            guarded("footprint", res, section_footprint, b, res)
            guarded("scaling", res, section_scaling, b.vm, res)
            b.stop()
        else:
            # 6 (five idle minutes, a mostly idle VM) runs beside 1 + 2
            b6 = make_bed(run.make_vm)
            b1 = make_bed(run.make_vm)          # a bed: the daemon's row needs the EC2 simulator
            start_bed(b1)
            v = b1.vm
            start_bed(b6)
            res["meta"]["guest_kernel"] = guest_kernel(v)
            th = threading.Thread(target=guarded, args=("footprint", res, section_footprint, b6, res))
            th.start()
            guarded("attach_latency", res, section_attach, v, res)
            v.kill()
            b1.stop()
            th.join()
            b6.vm.kill()
            b6.stop()
            # 2: a VM of its own. Section 1's seven paths take 42 of the 64
            # root ports, and the stall's 15 attaches ran out of them in round 3.
            v = run.make_vm()
            v.start(boot_timeout=600)
            install_bench(v)
            guarded("write_stall", res, section_stall_own_vm, v, res)
            v.kill()
            # 3: 26 + 26 members
            v = run.make_vm()
            v.start(boot_timeout=600)
            install_bench(v)
            guarded("scaling", res, section_scaling, v, res)
            v.kill()
            # 3b: 2 + 26 members and ten timed attaches, a VM of its own for the same reason
            v = run.make_vm()
            v.start(boot_timeout=600)
            install_bench(v)
            guarded("flat", res, section_flat, v, res)
            v.kill()
            # 8: thin vs linear (stall, reclaim)
            v = run.make_vm()
            v.start(boot_timeout=600)
            install_bench(v)
            guarded("thin_vs_linear", res, section_thin_vs_linear, v, res)
            v.kill()
            # 4, 7 (simulator attach latency 0.5 s), then 5 (10 s) on the same bed
            b = make_bed(run.make_vm)
            start_bed(b)
            guarded("reaction", res, section_reaction, b, res)
            guarded("cost", res, section_cost, b, res)
            guarded("fill_race", res, section_race, b, res)
            b.vm.kill()
            b.stop()
            # 7b: the cost replay checked against the VM (a bed of its own; bench/replay_check.py)
            import replay_check
            guarded("replay_check", res, replay_check.run, sys.modules[__name__], run.make_vm, res)
            # 11: the instance-store tier (a VM of its own, booted with its disks)
            guarded("istore", res, section_istore, run.make_vm, res)
            import seed         # amazon-ebs-autoscale itself, beside dmscale (bench/seed.py)
            guarded("seed", res, seed.run, sys.modules[__name__], res)
    finally:
        run.kill_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    res["meta"]["wall_s" if not args.only else f"{args.only}_wall_s"] = time.monotonic() - t_all
    res["meta"]["loadavg_end"] = os.getloadavg()
    res["summary"] = bsummary.summary(res)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
    with open(args.doc, "w") as f:
        f.write(render.render(res))
    log(f"wrote {args.out} and {args.doc} in {time.monotonic() - t_all:.0f} s")
    return 1 if res.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
