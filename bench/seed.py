"""The seed measured for real: amazon-ebs-autoscale itself beside dmscale, in one VM.

`bench/bench.py --only seed` (or the full run) calls run(). Upstream is never
copied into this tree: the files of ../shared/peers/amazon-ebs-autoscale are
written into the guest at run time and installed there with upstream's own
install.sh and default config, once per mode (btrfs, then lvm.ext4). The guest
is the VM test bed's image plus awscli, curl and jq (bench/seed-image.sh, a
cached bench-only layer; the test bed's recipe is unchanged). Every shim is a
file in bench/guest/seed/ and is listed in SHIMS (and in docs/BENCHMARKS.md).

One VM, one EC2/IMDS simulator (the same settings for both systems), one trace
(bench/guest/seed/trace.py) run once per system:
  * at once up to FIRST_FRACTION of the size (crosses the seed's 50 % threshold),
    then RATE_BPS of posix_fallocate until END_BYTES are used;
  * reaction = crossing -> CreateVolume received (host clock; the guest clock is
    mapped through guest-get-time), grow = CreateVolume -> statvfs size grew;
  * writer stall = longest gap between two 1 MiB O_DIRECT writes during the trace;
  * ENOSPC or not at that rate; provisioned / used at the end; API calls per volume;
  * idle CPU (the unit's cgroup: children included) and the cgroup's memory.peak;
  * SIGKILL of the seed during each of its mutating API calls -> volumes that
    would outlive the instance (no DeleteOnTermination) or sit unused.
"""
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(PROJECT, "tests", "vm"))

import vm as vmlib  # noqa: E402
from ec2bed import EC2_URL  # noqa: E402
from ec2sim import shared_dir  # noqa: E402
from helpers import GIB, MIB  # noqa: E402

UPSTREAM = os.path.join(shared_dir(), "peers", "amazon-ebs-autoscale")
GSEED = "/usr/local/lib/dmscale-bench/seed"
OPT = "/opt/amazon-ebs-autoscale"
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
# The trace. Default configs on both sides (seed: 200 GiB first volume, 150 GiB
# steps at 50 % use; dmscale: its shipped debian/examples/dmscale.json).
INITIAL_GIB = 200
FIRST_FRACTION = 0.55
END_BYTES = (240 if SMOKE else 300) * GIB
RATE_BPS = 2 * GIB
STEP_BYTES = 512 * MIB
IDLE_S = 20 if SMOKE else 60
QUIET_S = 20
SHIMS = [
    ("aws wrapper", "bench/guest/seed/aws",
     "Debian 12's awscli is 2.9.19, older than AWS_ENDPOINT_URL_EC2 (2.13): a wrapper first on PATH adds "
     "--endpoint-url (the simulator); every other argument, the region and the IMDS role credentials are upstream's"),
    ("/dev/xvdbX names", "bench/guest/seed/70-seed-xvd.rules, ebs-devname",
     "a udev rule links /dev/xvdbX (the name AttachVolume asked for) to the NVMe disk, as Amazon Linux's "
     "ec2-utils rule does from the controller's vendor data, which QEMU's NVMe cannot carry: the bench writes "
     "the name to /run/seed-ebs/<serial> just before the simulator hot-plugs the volume"),
    ("bash", "bench/guest/seed/ebs-autoscale-bench.conf",
     "upstream's scripts are bash under #!/bin/sh (bash on Amazon Linux, dash on Debian): install.sh is run "
     "with bash, and a systemd drop-in runs bin/ebs-autoscale with /bin/bash (plus CPU/memory accounting)"),
    ("IMDSv1", "tests/vm/ec2sim.py imds_v1=True",
     "upstream's default config reads metadata with tokenless curl GETs: the simulator answers them, as an "
     "instance launched with HttpTokens=optional does (no change to upstream)"),
    ("EBS_AUTOSCALE_CONFIG_FILE", "bench/seed.py install_seed",
     "install.sh -f lvm.ext4 reads the VG and LV names with get_config_value, which needs "
     "$EBS_AUTOSCALE_CONFIG_FILE; at this commit only bin/ebs-autoscale and bin/create-ebs-volume export it "
     "(older install.sh versions did too), so unset, jq reads its empty stdin and `vgcreate` gets no VG name "
     "(observed: 'No command with matching syntax recognised'). The bench runs install.sh with it set to the "
     "file install.sh itself has just written"),
]


def seed_threshold(num_devices):
    """bin/ebs-autoscale calc_threshold with the default initial threshold 50."""
    return 80 if 4 <= num_devices <= 6 else 90 if num_devices > 6 else 50


def lock_agent(vm):
    """The simulator's timer thread writes into the guest (the device-name map)
    while the main thread drives it: one qga request/answer at a time."""
    lock = threading.RLock()
    orig = vm.qga.call

    def call(*a, **k):
        with lock:
            return orig(*a, **k)
    vm.qga.call = call


def install_shims(vm):
    g = os.path.join(HERE, "guest", "seed")
    vm.run(["mkdir", "-p", GSEED, "/usr/local/lib/seed-shim", "/run/seed-ebs",
            "/etc/systemd/system/ebs-autoscale.service.d"])
    for n in sorted(os.listdir(g)):
        with open(os.path.join(g, n), "rb") as f:
            data = f.read()
        vm.write_file(f"{GSEED}/{n}", data, mode="0755")
    vm.sh(f"cp {GSEED}/aws /usr/local/bin/aws; cp {GSEED}/ebs-devname /usr/local/lib/seed-shim/; "
          f"cp {GSEED}/70-seed-xvd.rules /etc/udev/rules.d/; "
          f"cp {GSEED}/ebs-autoscale-bench.conf /etc/systemd/system/ebs-autoscale.service.d/bench.conf; "
          "udevadm control --reload; systemctl daemon-reload")


def copy_upstream(vm):
    """../shared/peers/amazon-ebs-autoscale -> the guest's /opt (never into this repo)."""
    n = 0
    for root, dirs, files in os.walk(UPSTREAM):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            src = os.path.join(root, f)
            rel = os.path.relpath(src, UPSTREAM)
            vm.run(["mkdir", "-p", os.path.dirname(f"{OPT}/{rel}")])
            with open(src, "rb") as fh:
                vm.write_file(f"{OPT}/{rel}", fh.read(), mode="0755" if os.access(src, os.X_OK) else "0644")
            n += 1
    with open(os.path.join(UPSTREAM, "UPSTREAM-COMMIT")) as fh:
        return n, fh.read().split()[0]


def with_devmap(b):
    """AttachVolume's device name reaches the guest before the disk does (shim 2)."""
    orig = b.sim.on_attach

    def on_attach(vid, size_bytes, device):
        b.vm.write_file(f"/run/seed-ebs/{vmlib.serial_of(vid)}", device + "\n")
        orig(vid, size_bytes, device)
    b.sim.on_attach = on_attach


def dmscale_config(pool, mp):
    with open(os.path.join(PROJECT, "debian", "examples", "dmscale.json")) as f:
        cfg = json.load(f)
    cfg.update(pool=pool, mountpoint=mp, ec2_endpoint=EC2_URL, metrics_textfile="")
    return cfg


def cg(vm, unit, key):
    rc, out, _ = vm.run(["cat", f"/sys/fs/cgroup/system.slice/{unit}/{key}"], check=False)
    return int(out.split()[0]) if rc == 0 and out.strip() else None


def cpu_ns(vm, unit):
    v = vm.sh(f"systemctl show -p CPUUsageNSec --value {unit}").strip()
    return int(v) if v.isdigit() else None


def seed_busy(vm):
    """create-ebs-volume, an aws CLI call or add_space's storage step (vgextend,
    lvresize, resize2fs; btrfs device add / balance) is running. The brackets keep
    the pattern from matching the command line of the `timeout` that runs pgrep."""
    return vm.run(["pgrep", "-f", "[c]reate-ebs-volume|/usr/bin/[a]ws |[v]gextend |[l]vresize |[r]esize2fs |"
                   "[b]trfs (device|balance) "], check=False)[0] == 0


def loop_lines(vm):
    rc, out, _ = vm.run(["grep", "-c", "Devices ", "/var/log/ebs-autoscale.log"], check=False)
    return int(out.strip() or 0)


def wait_seed_loop(vm, n0, timeout=600):
    """The seed's loop is running: its start-up (curl, the get_num_devices aws
    call) is over and it has logged a status line since there were N0."""
    end = time.monotonic() + timeout
    while seed_busy(vm) or loop_lines(vm) <= n0:
        if time.monotonic() > end:
            raise vmlib.VMError("the seed's loop never settled")
        time.sleep(2)


def run_trace(B, b, times, mp, who, busy):
    """One trace on MP; returns the measurements (host clock for API times)."""
    vm, sim = b.vm, b.sim
    stop = f"{B.RUN}/trace-{who}.stop"
    off, rtt = B.host_guest_offset(vm)
    n0, t0 = len(sim.calls), len(times)
    wall0 = time.monotonic()
    pid = B.gstart(vm, ["/usr/bin/python3", f"{GSEED}/trace.py", mp, str(FIRST_FRACTION), str(END_BYTES),
                        str(RATE_BPS), str(STEP_BYTES), stop, "50"])
    # the fill, then quiet: for QUIET_S no API call and the system never seen busy
    # (a poll can fall between two of the seed's steps: its storage step ends, its
    # loop sleeps 2 s, then forks the next get_num_devices aws call)
    end = time.monotonic() + 1800
    last_busy = 0.0
    while True:
        time.sleep(2)
        if busy():
            last_busy = time.time()
        st = vm.qga.call("guest-exec-status", pid=pid)
        if st.get("exited"):
            raise vmlib.VMError(f"trace.py exited early: {B.gwait(vm, pid, 5)}")
        filled = "fill_done" in vm.sh(f"cat {stop}.state 2>/dev/null || true")
        last = max([t for t, _ in times[t0:]], default=0)
        if filled and time.time() - max(last, last_busy) > QUIET_S and not busy():
            break
        if time.monotonic() > end:
            raise vmlib.VMError(f"{who}: trace did not settle")
    vm.run(["touch", stop])
    rc, out, err = B.gwait(vm, pid, 120)
    r = json.loads(out.strip().splitlines()[-1])
    r["wall_s"] = time.monotonic() - wall0
    r["clock_rtt_s"] = rtt
    calls = [a for a, _ in sim.calls[n0:]]
    creates = [t for t, a in times[t0:] if a == "CreateVolume"]
    grows = [t - off for t, size in r["sizes"][1:]]
    by = {}
    for a in calls:
        by[a] = by.get(a, 0) + 1
    r["api_calls_by_action"] = by
    r["volumes_added"] = len(creates)
    r["api_calls_per_volume"] = len(calls) / len(creates) if creates else None
    r["reaction_s"] = (creates[0] - (r["t_cross_rt"] - off)) if creates else None
    gi, r["create_to_grown_s"] = 0, []
    for c in creates:
        while gi < len(grows) and grows[gi] < c:
            gi += 1
        r["create_to_grown_s"].append(grows[gi] - c if gi < len(grows) else None)
        gi += 1
    r["create_rt"] = [c + off for c in creates]
    t_cross_host = r["t_cross_rt"] - off
    r["calls_from_cross"] = [[round(t - t_cross_host, 2), a] for t, a in times[t0:]]
    del r["samples"][1:-1]           # keep the first and the last sample only
    return r


def seed_attached(sim, iid):
    """What upstream's get_num_devices counts: volumes attached to IID that carry
    its amazon-ebs-autoscale-creation-time tag (its first volume included)."""
    return sum(1 for v in list(sim.volumes.values()) if "amazon-ebs-autoscale-creation-time" in v.tags
               and v.attachment and v.attachment.get("instance") == iid)


def seed_provisioned(sim, iid):
    vols = [v for v in list(sim.volumes.values()) if v.tags.get("source-instance") == iid]
    return vols


def install_seed(B, b, mode, res):
    vm = b.vm
    n0 = len(b.sim.calls)
    t = time.monotonic()
    # shim 5: install.sh reads .lvm.* from $EBS_AUTOSCALE_CONFIG_FILE, which only
    # its other scripts export (unset, jq reads stdin and vgcreate gets no VG name)
    rc, out, err = vm.run(["/usr/bin/env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "EBS_AUTOSCALE_CONFIG_FILE=/etc/ebs-autoscale.json",
                           "/bin/bash", f"{OPT}/install.sh", "-f", mode], timeout=900, check=False)
    dt = time.monotonic() - t
    ok = rc == 0 and vm.run(["systemctl", "is-active", "-q", "ebs-autoscale.service"], check=False)[0] == 0
    B.log(f"  seed install.sh -f {mode}: rc {rc} in {dt:.1f} s, service {'active' if ok else 'NOT active'}")
    if not ok:
        raise vmlib.VMError(f"install.sh -f {mode} failed rc={rc}\n{out[-3000:]}\n{err[-3000:]}\n" +
                            vm.sh("cat /var/log/ebs-autoscale.log 2>/dev/null | tail -30; "
                                  "journalctl -u ebs-autoscale --no-pager -o cat | tail -30", check=False)[1])
    calls = [a for a, _ in b.sim.calls[n0:]]
    return {"install_s": dt, "install_api_calls": len(calls)}


def kill_steps(B, b, times, iid):
    """SIGKILL the seed's unit while each mutating call is in flight (the simulator
    holds the call 8 s, then completes it as EC2 would for a dropped client)."""
    vm, sim = b.vm, b.sim
    out = []
    deadline = float(os.environ.get("SEED_DEADLINE", "inf"))    # epoch s: skip what would not fit
    for action in ("CreateVolume", "AttachVolume", "ModifyInstanceAttribute"):
        if time.time() + 300 > deadline:
            out.append({"killed_during": action, "not_run": "out of time"})
            B.log(f"  SIGKILL during {action}: not run (SEED_DEADLINE)")
            continue
        before = {v.id for v in seed_provisioned(sim, iid)}
        sim.set_delay(action, 8.0)
        c0 = len(sim.calls)
        # above the threshold again, then start the loop. The threshold is the one the
        # restarted loop computes (get_num_devices: attached volumes carrying its
        # creation-time tag), which an earlier step's attached volume may have raised
        # to 80 %; df's Use% is used / (used + available), so aim 3 points above it
        thr = seed_threshold(seed_attached(sim, iid))
        total = int(vm.sh("python3 -c \"import os;s=os.statvfs('/scratch');"
                          "print((s.f_blocks-s.f_bfree+s.f_bavail)*s.f_frsize)\"").strip())
        vm.run(["/usr/bin/python3", f"{B.G}/cross.py", "/scratch", str(int((97 - thr) / 100 * total)),
                f"kill-{action}"], timeout=120)
        vm.run(["systemctl", "start", "ebs-autoscale.service"])
        end = time.monotonic() + 600
        while not any(a == action for a, _ in sim.calls[c0:]):   # on arrival, before the held answer
            if time.monotonic() > end:
                raise vmlib.VMError(f"kill step {action}: the call never came")
            time.sleep(0.1)
        vm.run(["systemctl", "kill", "-s", "KILL", "ebs-autoscale.service"], check=False)
        vm.run(["systemctl", "stop", "ebs-autoscale.service"], check=False)
        sim.delays.pop(action, None)
        time.sleep(12)                         # the held call completes server-side
        new = [v for v in seed_provisioned(sim, iid) if v.id not in before]
        leak = [v.id for v in new if not (v.attachment and v.attachment.get("dot"))]
        unused = [v.id for v in new if v.id not in leak]
        r = {"killed_during": action, "new_volumes": len(new), "orphaned_no_delete_on_termination": len(leak),
             "attached_unused_until_termination": len(unused)}
        B.log(f"  SIGKILL during {action}: {r}")
        out.append(r)
    return out


def run(B, res):
    """B: the bench module (helpers and parameters). Fills res['seed']."""
    t_all = time.monotonic()
    # SEED_PHASES=lvm: only the lvm.ext4 mode and the kill steps, merged into an
    # earlier run's results (its dmscale and btrfs figures are kept)
    only_lvm = os.environ.get("SEED_PHASES") == "lvm"
    B.log("seed: amazon-ebs-autoscale itself beside dmscale (one VM)" + (" - lvm.ext4 phase only" if only_lvm else ""))
    old = res.get("seed") if only_lvm else None
    sec = {"measured": False, "shims": [{"name": n, "files": f, "why": w} for n, f, w in SHIMS],
           "trace": {"first_fraction": FIRST_FRACTION, "end_bytes": END_BYTES, "rate_bps": RATE_BPS,
                     "step_bytes": STEP_BYTES, "initial_gib": INITIAL_GIB},
           "systems": {}}
    if old:
        sec["systems"] = {k: v for k, v in old.get("systems", {}).items() if k != "seed-lvm.ext4"}
        for k in ("idle_s", "upstream_commit", "upstream_files", "awscli", "aws_maxrss_kib"):
            if k in old:
                sec[k] = old[k]
        meta = res.get("meta") or {}
        sec["phases"] = {"dmscale and seed-btrfs": old.get("wall_s"),
                         "dmscale and seed-btrfs commit": meta.get("seed_previous_commit"),
                         "first_run_error": meta.get("seed_previous_error"),
                         "seed-lvm.ext4 and kill steps commit": meta.get("seed_commit")}
    res["seed"] = sec
    subprocess_run([os.path.join(HERE, "seed-image.sh"), vmlib.VMDIR])
    saved = vmlib.ROOTFS
    vmlib.ROOTFS = os.path.join(vmlib.VMDIR, "rootfs-seed")
    try:
        image = os.path.join(vmlib.VMDIR, "bench-seed-installed.img")
        vmlib.build_installed_image(image)
    finally:
        vmlib.ROOTFS = saved
    import tempfile
    workdir = tempfile.mkdtemp(prefix="dmscale-bench-seed-", dir=vmlib.BUILD)
    runner = B.Runner(workdir, image)
    try:
        b = B.make_bed(runner.make_vm, imds_v1=True)
        b.vm.start(boot_timeout=600)
        lock_agent(b.vm)
        b.vm.run(["systemctl", "start", "systemd-networkd"])
        b.vm.wait_for("ip -4 -o addr show dev eth0 | grep -q 'inet '", timeout=90)
        B.install_bench(b.vm)
        with_devmap(b)
        vm, sim = b.vm, b.sim
        times = B.record_create_times(sim)
        install_shims(vm)
        nfiles, commit = copy_upstream(vm)
        sec["upstream_commit"], sec["upstream_files"] = commit, nfiles
        sec["awscli"] = vm.sh("/usr/bin/aws --version 2>&1").strip()
        sec["aws_maxrss_kib"] = int(vm.sh(
            "python3 -c 'import resource,subprocess; subprocess.run([\"aws\",\"ec2\",\"describe-volumes\","
            "\"--region\",\"us-east-1\"],stdout=subprocess.DEVNULL);"
            " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)'").strip())
        B.log(f"  {sec['awscli']}; one aws call peaks at {sec['aws_maxrss_kib']} KiB RSS")
        if not only_lvm:
            phase_dmscale_btrfs(B, b, sec, times, res)
        lvm_and_kills(B, b, sec, times, res, only_lvm)
        b.vm.kill()
        b.stop()
    finally:
        runner.kill_all()
        if not os.environ.get("SEED_KEEP"):
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
        sec["wall_s"] = time.monotonic() - t_all


def phase_dmscale_btrfs(B, b, sec, times, res):
    vm, sim = b.vm, b.sim
    if True:
        # dmscale: a 200 GiB first disk (as the seed's), shipped defaults
        dmp, pool, dunit = "/bench/dms", "dms", "bench-dms-daemon"
        d, err = B.init_pool(vm, pool, dmp, INITIAL_GIB * GIB)
        if d is None:
            raise vmlib.VMError("dmscale init failed: " + err)
        vm.write_file(f"/etc/dmscale/{pool}.json", json.dumps(dmscale_config(pool, dmp), indent=2))
        vm.run(["systemd-run", f"--unit={dunit}", "-p", "CPUAccounting=yes", "-p", "MemoryAccounting=yes",
                "/usr/sbin/dmscale", "daemon", "--config", f"/etc/dmscale/{pool}.json"])
        vm.wait_for(f"journalctl -u {dunit} -o cat | grep -q 'EC2: instance'", timeout=60, interval=0.5)
        # seed, btrfs (upstream's default mode)
        inst = install_seed(B, b, "btrfs", res)
        sec["systems"]["seed-btrfs"] = dict(inst)
        # idle: both loops, the same window, once the seed's start-up (curl, its
        # get_num_devices aws call) is over and its loop has logged
        units = {"dmscale": f"{dunit}.service", "seed-btrfs": "ebs-autoscale.service"}
        end = time.monotonic() + 600
        while seed_busy(vm) or vm.run(["grep", "-q", "Devices ", "/var/log/ebs-autoscale.log"], check=False)[0]:
            if time.monotonic() > end:
                raise vmlib.VMError("the seed's loop never settled")
            time.sleep(2)
        time.sleep(3)
        c0 = {k: cpu_ns(vm, u) for k, u in units.items()}
        u0 = float(vm.sh("cat /proc/uptime").split()[0])
        time.sleep(IDLE_S)
        c1 = {k: cpu_ns(vm, u) for k, u in units.items()}
        u1 = float(vm.sh("cat /proc/uptime").split()[0])
        sec["idle_s"] = u1 - u0
        for k, u in units.items():
            e = sec["systems"].setdefault(k, {})
            e["idle_cpu_percent"] = 100 * (c1[k] - c0[k]) / 1e9 / (u1 - u0)
            e["idle_memory_peak_kib"] = (cg(vm, u, "memory.peak") or 0) // 1024
            B.log(f"  idle {k}: CPU {e['idle_cpu_percent']:.2f} %, cgroup memory.peak {e['idle_memory_peak_kib']} KiB")
        # dmscale's trace (the seed's loop stopped meanwhile)
        vm.run(["systemctl", "stop", "ebs-autoscale.service"])
        r = run_trace(B, b, times, dmp, "dmscale", lambda: False)
        stj = json.loads(vm.sh(f"dmscale status --json --name {pool}"))
        r["provisioned_bytes"] = sum(m["size_bytes"] for m in stj["members"])
        r["memory_peak_kib"] = (cg(vm, f"{dunit}.service", "memory.peak") or 0) // 1024
        sec["systems"]["dmscale"].update(r)
        B.log(f"  dmscale trace: {summ(r)}")
        save(sec)
        vm.run(["systemctl", "stop", dunit], check=False, timeout=120)
        # the seed's trace, btrfs (once its loop runs: its start-up aws call is not reaction time)
        n0 = loop_lines(vm)
        vm.run(["systemctl", "start", "ebs-autoscale.service"])
        wait_seed_loop(vm, n0)
        r = run_trace(B, b, times, "/scratch", "seed-btrfs", lambda: seed_busy(vm))
        r["loop_ready"] = True
        r["provisioned_bytes"] = sum(v.size_gib for v in seed_provisioned(sim, sim.instance_id)) * GIB
        r["memory_peak_kib"] = (cg(vm, "ebs-autoscale.service", "memory.peak") or 0) // 1024
        sec["systems"]["seed-btrfs"].update(r)
        B.log(f"  seed-btrfs trace: {summ(r)}")
        vm.run(["systemctl", "stop", "ebs-autoscale.service"])
        save(sec)


def lvm_and_kills(B, b, sec, times, res, only_lvm):
    vm, sim = b.vm, b.sim
    if True:
        # seed, lvm.ext4: a fresh install on a fresh first volume
        vm.sh("systemctl stop ebs-autoscale.service || true; umount /scratch || true; "
              "sed -i '\\#[[:space:]]/scratch[[:space:]]#d' /etc/fstab; rm -rf /scratch")
        before = {v.id for v in seed_provisioned(sim, sim.instance_id)}
        n0 = loop_lines(vm)
        inst = install_seed(B, b, "lvm.ext4", res)
        sec["systems"]["seed-lvm.ext4"] = dict(inst)
        wait_seed_loop(vm, n0)
        # idle: its loop alone, right after its start-up (dmscale's daemon is not
        # running in this phase, so not the btrfs phase's shared window)
        time.sleep(3)
        c0, u0 = cpu_ns(vm, "ebs-autoscale.service"), float(vm.sh("cat /proc/uptime").split()[0])
        time.sleep(IDLE_S)
        c1, u1 = cpu_ns(vm, "ebs-autoscale.service"), float(vm.sh("cat /proc/uptime").split()[0])
        e = sec["systems"]["seed-lvm.ext4"]
        e["idle_window_s"] = u1 - u0
        e["idle_cpu_percent"] = 100 * (c1 - c0) / 1e9 / (u1 - u0) if c0 is not None and c1 is not None else None
        e["idle_memory_peak_kib"] = (cg(vm, "ebs-autoscale.service", "memory.peak") or 0) // 1024
        B.log(f"  idle seed-lvm.ext4 (alone): CPU {e['idle_cpu_percent']}, memory.peak {e['idle_memory_peak_kib']} KiB")
        r = run_trace(B, b, times, "/scratch", "seed-lvm", lambda: seed_busy(vm))
        r["loop_ready"] = True
        r["provisioned_bytes"] = sum(v.size_gib for v in seed_provisioned(sim, sim.instance_id)
                                     if v.id not in before) * GIB
        r["memory_peak_kib"] = (cg(vm, "ebs-autoscale.service", "memory.peak") or 0) // 1024
        sec["systems"]["seed-lvm.ext4"].update(r)
        B.log(f"  seed-lvm.ext4 trace: {summ(r)}")
        sec["violations"] = list(sim.violations)[:20]
        sec["measured"] = True
        save(sec)
        # last (the longest part): SIGKILL at each mutating call, lvm.ext4 mode
        vm.run(["systemctl", "stop", "ebs-autoscale.service"])
        sec["kill_steps_mode"] = "lvm.ext4"
        sec["kill_steps"] = kill_steps(B, b, times, sim.instance_id)
        save(sec)


def save(sec):
    """Partial results after each phase (a long run that is cut short keeps them)."""
    with open(os.path.join(vmlib.BUILD, "seed-partial.json"), "w") as f:
        json.dump(sec, f, indent=1)


def summ(r):
    pu = r["provisioned_bytes"] / r["used_end"] if r.get("used_end") else None
    return (f"reaction {r['reaction_s']}, grow {r['create_to_grown_s']}, stall {r['stall'].get('max_gap_s')}, "
            f"error {r['error']}, volumes {r['volumes_added']}, calls/vol {r['api_calls_per_volume']}, "
            f"prov/used {pu}, {r['wall_s']:.0f} s")


def subprocess_run(argv):
    import subprocess
    subprocess.run(argv, check=True)
