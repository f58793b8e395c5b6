"""Section 7b of `make bench`: the cost replay (bench/sim/replay.c,
build/dmscale-replay) checked against the real daemon in the VM, on one
reference trace scaled down (docs/COST.md, "Checked against the VM").

    bench/bench.py --only replay_check      (also in the full run, after section 7;
                                             not in the BENCH_SMOKE run)

The trace is bench/traces/steady-400g.trace with sizes ÷ SIZE_DIV and times ÷
TIME_DIV: its shape (a constant rate from a 1 GiB start) is kept, its rate is
× TIME_DIV / SIZE_DIV. steady-400g because a constant rate is the one shape that
survives the scaling: the daemon's tick (1 s) and its fill-rate EWMA (5 s time
constant) are not scaled, and they would smooth the scaled bursts of `bursts`
(0.5-25 s long) into another trace. The config is the shipped defaults with
every size and every look-ahead time scaled the same way (SCALED_KEYS); the
attach latency is whatever the VM takes.

In the guest, bench/guest/replay/writer.py follows the scaled trace with
posix_fallocate while `dmscale daemon` (shipped defaults, scaled) runs against
the EC2/IMDS simulator. Then dmscale-replay runs the same scaled trace with the
same config twice: fed the latencies the VM measured (per volume, in order:
CreateVolume -> attached as the daemon saw it, CreateVolume -> filesystem grown),
and with its documented latency model. Reported side by side, never asserted."""
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
GIB, MIB = 1 << 30, 1 << 20

TRACE = "steady-400g"
SIZE_DIV = 25          # 25 GiB min_volume_gib -> 1 GiB, the smallest EBS volume
TIME_DIV = 8           # 2118 s -> 265 s
SEED = 15              # the replay's latency model seed, as bench/cost.py

# ec2/config.c dms_config_defaults (tests/unit_py/test_replay_check.py checks
# these against the C source) and the launch template's first volume
SHIPPED = {"poll_interval_ms": 1000, "min_free_bytes": 10 * GIB, "min_free_percent": 5, "initial_volume_gib": 150,
           "min_volume_gib": 25, "max_volume_gib": 1500, "max_volumes": 24, "max_total_gib": 16384,
           "max_attachments": 26, "fill_horizon_s": 60, "growth_percent": 15, "safety_factor": 3,
           "min_lead_s": 150}
LAUNCH_TEMPLATE_GIB = 100
SIZE_KEYS = ("min_free_bytes", "initial_volume_gib", "min_volume_gib", "max_volume_gib", "max_total_gib")
TIME_KEYS = ("fill_horizon_s", "min_lead_s")
UNSCALED = {
    "poll_interval_ms": "the daemon's tick (1 s), and with it the fill-rate EWMA's 5 s time constant: a constant "
                        "rate makes both immaterial once the estimate has settled",
    "min_free_percent": "a fraction of the pool", "growth_percent": "a fraction of the pool",
    "safety_factor": "multiplies the measured attach latency, which is not scaled",
    "max_volumes": "a count", "max_attachments": "a count",
}


def scaled_config():
    """The shipped defaults with sizes ÷ SIZE_DIV (GiB values rounded, >= 1) and
    look-ahead times ÷ TIME_DIV (rounded up to whole seconds, as the keys are)."""
    c = {}
    for k in SIZE_KEYS:
        v = SHIPPED[k] / SIZE_DIV
        c[k] = int(v) if k.endswith("_bytes") else max(1, int(round(v)))
    for k in TIME_KEYS:
        c[k] = max(1, math.ceil(SHIPPED[k] / TIME_DIV))
    return c


def scale_trace(src, dst):
    """Write src scaled (times ÷ TIME_DIV, bytes ÷ SIZE_DIV); returns (end_s, peak, end) bytes."""
    rows = []
    with open(src) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            t, u = line.split()
            rows.append((float(t) / TIME_DIV, float(u) / SIZE_DIV))
    with open(dst, "w") as fh:
        fh.write(f"# trace {TRACE} scaled: times / {TIME_DIV}, bytes / {SIZE_DIV} (bench/replay_check.py)\n")
        for t, u in rows:
            fh.write(f"{t:.4f} {u:.0f}\n")
    return rows[-1][0], max(u for _, u in rows), rows[-1][1]


def grown_times(sizes, creates_rel, vol_gib):
    """When each volume's space showed in the filesystem: the first size change,
    not before its CreateVolume, that adds >= 90 % of its size to the size the
    previous volume left (ext4 keeps ~2 % for its metadata)."""
    out, base, i = [], sizes[0][1] if sizes else 0, 1
    for c, g in zip(creates_rel, vol_gib):
        thr = base + 0.9 * g * GIB
        while i < len(sizes) and (sizes[i][1] < thr or sizes[i][0] < c - 0.5):
            i += 1
        if i >= len(sizes):
            out.append(None)
            continue
        out.append(sizes[i][0])
        base = sizes[i][1]
        i += 1
    return out


def vm_figures(w, creates_rel, vol_gib, grown_rel, start_gib):
    """The replay's five figures (and a few more) from the writer's ticks."""
    def prov_at(t):
        return start_gib + sum(g for g, tg in zip(vol_gib, grown_rel) if tg is not None and tg <= t)
    rows = w["rows"]
    t_end, used_end = rows[-1][0], rows[-1][1] / GIB
    peak = max(rows, key=lambda r: r[1])
    free_prov = min(prov_at(r[0]) - r[1] / GIB for r in rows)
    # the filesystem's own free space; while the writer is short, minus the shortfall
    free_fs = min((r[4] if r[2] >= r[1] else -(r[1] - r[2])) / GIB for r in rows)
    ev = w["enospc"]
    short_s = sum(((e[1] if e[1] is not None else t_end) - e[0]) for e in ev)
    prov_end = prov_at(t_end)
    return {
        "provisioned_end_gib": prov_end, "used_end_gib": used_end,
        "provisioned_over_used_end": prov_end / used_end if used_end else None,
        "used_peak_gib": peak[1] / GIB, "provisioned_at_peak_gib": prov_at(peak[0]),
        "provisioned_over_used_at_peak": prov_at(peak[0]) * GIB / peak[1] if peak[1] else None,
        "min_free_gib": free_prov, "min_free_fs_gib": free_fs,
        "enospc_events": len(ev), "enospc_s": short_s,
        "volumes_created": sum(1 for c in creates_rel if c <= t_end),
        "volume_sizes_gib": vol_gib,
    }


FIGS = ("provisioned_over_used_end", "provisioned_over_used_at_peak", "min_free_gib", "enospc_events",
        "volumes_created")


def replay(binary, trace, cfg, samples=None):
    argv = [binary, "--seed", str(SEED), "--start-gib", str(LAUNCH_TEMPLATE_GIB // SIZE_DIV),
            "--config-json", json.dumps(cfg)]
    if samples:
        argv += ["--latency-samples", samples]
    p = subprocess.run(argv + [trace], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"dmscale-replay failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return next(r for r in json.loads(p.stdout)["results"] if r["policy"] == "dmscale")


def compare(vm, rep):
    return {k: (vm[k] - rep[k]) if vm.get(k) is not None and rep.get(k) is not None else None for k in FIGS}


def run(B, make_vm, res):
    """B: the bench module (bench/bench.py: guest helpers, the bed). Fills res['replay_check']."""
    t_all = time.monotonic()
    B.log(f"section 7b: the replay checked against the VM ({TRACE}, sizes / {SIZE_DIV}, times / {TIME_DIV})")
    subprocess.run(["make", "-s", "-C", PROJECT, "sim"], check=True, capture_output=True)
    binary = os.path.join(B.vmlib.BUILD, "dmscale-replay")
    work = tempfile.mkdtemp(prefix="dmscale-replay-check-", dir=B.vmlib.BUILD)
    try:
        _run(B, make_vm, res, binary, work, t_all)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(B, make_vm, res, binary, work, t_all):
    trace = os.path.join(work, f"{TRACE}-scaled.trace")
    end_s, peak_b, end_b = scale_trace(os.path.join(PROJECT, "bench", "traces", f"{TRACE}.trace"), trace)
    cfg = scaled_config()
    start_gib = LAUNCH_TEMPLATE_GIB // SIZE_DIV
    sec = {"trace": TRACE, "size_divisor": SIZE_DIV, "time_divisor": TIME_DIV,
           "rate_factor": TIME_DIV / SIZE_DIV,
           "scaled_trace": {"end_s": end_s, "peak_gib": peak_b / GIB, "end_gib": end_b / GIB},
           "start_gib": start_gib, "model_seed": SEED,
           "config_scaled": {k: {"shipped": SHIPPED[k], "scaled": v} for k, v in cfg.items()},
           "config_unscaled": UNSCALED}
    b = B.make_bed(make_vm)
    try:
        B.start_bed(b)
        vm, sim = b.vm, b.sim
        sec["simulator_latency_s"] = {"create": sim.create_latency_s, "attach": sim.attach_latency_s}
        with open(os.path.join(HERE, "guest", "replay", "writer.py"), "rb") as fh:
            vm.write_file(f"{B.G}/replay-writer.py", fh.read(), mode="0755")
        with open(trace, "rb") as fh:
            vm.write_file(f"{B.RUN}/replay.trace", fh.read())
        mp, pool, unit = "/bench/replay", "replay", "bench-daemon-replay"
        d, err = B.init_pool(vm, pool, mp, start_gib * GIB)
        if d is None:
            raise RuntimeError(f"dmscale init: {err}")
        times = B.record_create_times(sim)
        import ec2bed       # tests/vm (on sys.path via bench.py)
        dcfg = {"pool": pool, "mountpoint": mp, "imds_endpoint": f"http://{ec2bed.IMDS_IP}",
                "ec2_endpoint": ec2bed.EC2_URL}
        dcfg.update(cfg)
        vm.write_file(f"/etc/dmscale/{pool}.json", json.dumps(dcfg, indent=2))
        vm.run(["systemd-run", f"--unit={unit}", "/usr/sbin/dmscale", "daemon", "--config",
                f"/etc/dmscale/{pool}.json"])
        vm.wait_for(f"journalctl -u {unit} -o cat | grep -q 'EC2: instance'", timeout=60, interval=0.5)
        B.daemon_idle(vm, pool)
        off0, rtt0 = B.host_guest_offset(vm)
        n0, k0 = len(sim.calls), len(times)
        t_w = time.monotonic()
        pid = B.gstart(vm, ["/usr/bin/python3", f"{B.G}/replay-writer.py", mp, f"{B.RUN}/replay.trace"])
        rc, out, errout = B.gwait(vm, pid, timeout=end_s * 4 + 600, first_sleep=end_s * 0.9, interval=2.0)
        sec["writer_wall_s"] = time.monotonic() - t_w
        if rc != 0:
            raise RuntimeError(f"writer rc={rc}: {errout[-1000:]}")
        w = json.loads(out.strip().splitlines()[-1])
        off1, rtt1 = B.host_guest_offset(vm)
        try:
            B.daemon_idle(vm, pool, timeout=300)     # a volume still in flight at the end lands
        except B.vmlib.VMError as e:
            sec["not_idle"] = str(e)[:300]
        journal = vm.sh(f"journalctl -u {unit} -o cat --no-pager")
        st = json.loads(vm.sh(f"dmscale status --json --name {pool}"))
        vm.run(["systemctl", "stop", unit], check=False, timeout=120)
    finally:
        b.vm.kill()
        b.stop()
    raw = {"writer": w, "off": [off0, off1], "rtt": [rtt0, rtt1],
           "creates_host": [t for t, a in times[k0:] if a == "CreateVolume"],
           "vol_gib": [int(p.get("Size", 0)) for a, p in sim.calls[n0:] if a == "CreateVolume"],
           "api_calls": len(sim.calls) - n0, "journal": journal, "status": st}
    # kept for a re-analysis by hand (analyze(B, raw, sec, ...)) if what follows fails
    with open(os.path.join(B.vmlib.BUILD, "replay-check-raw.json"), "w") as fh:
        json.dump(raw, fh)
    analyze(B, raw, sec, binary, trace, cfg, work, start_gib)
    sec["wall_s"] = time.monotonic() - t_all
    res["replay_check"] = sec
    vmf, r = sec["vm"], sec["replay_measured"] or {}
    B.log(f"  VM: provisioned/used {vmf['provisioned_over_used_end']:.3f} at the end, "
          f"{vmf['provisioned_over_used_at_peak']:.3f} at the peak, min free {vmf['min_free_gib']:.2f} GiB, "
          f"ENOSPC {vmf['enospc_events']}, {vmf['volumes_created']} volumes; replay (VM latencies) "
          f"{r.get('provisioned_over_used_end')}, {r.get('provisioned_over_used_at_peak')}, "
          f"{r.get('min_free_gib')} GiB, {r.get('enospc_events')}, {r.get('volumes_created')}; "
          f"{sec['wall_s']:.0f} s")


def analyze(B, raw, sec, binary, trace, cfg, work, start_gib):
    """The VM's figures from what run() collected, then the two replays."""
    w, st, journal = raw["writer"], raw["status"], raw["journal"]
    off0, off1 = raw["off"]
    off = (off0 + off1) / 2
    sec["clock"] = {"offset_drift_s": off1 - off0, "rtt_s": max(raw["rtt"])}
    creates_host, vol_gib = raw["creates_host"], raw["vol_gib"]
    creates_rel = [t + off - w["t0_rt"] for t in creates_host]
    grown_rel = grown_times(w["sizes"], creates_rel, vol_gib)
    attached = [float(x) for x in re.findall(r"attached as \S+ ([\d.]+) s after CreateVolume", journal)]
    daemon_lat = [float(x) for x in re.findall(r"appended, filesystem .*?; latency ([\d.]+) s", journal)]
    lat = []
    for i, (c, g) in enumerate(zip(creates_rel, grown_rel)):
        lat.append({"size_gib": vol_gib[i], "create_at_s": c,
                    "attached_s": attached[i] if i < len(attached) else None,
                    "grown_s": (g - c) if g is not None else None,
                    "daemon_latency_s": daemon_lat[i] if i < len(daemon_lat) else None})
    sec["latencies"] = lat
    vmf = vm_figures(w, creates_rel, vol_gib, grown_rel, start_gib)
    vmf["members_after_idle"] = len(st.get("members", []))
    vmf["provisioned_after_idle_gib"] = sum(m["size_bytes"] for m in st.get("members", [])) / GIB
    vmf["volumes_created_in_all"] = len(vol_gib)
    vmf["api_calls"] = raw["api_calls"]
    vmf["writer"] = {"worst_late_s": w["worst_late_s"], "errors": w["errors"], "ticks": len(w["rows"]),
                     "tick_s": w["tick_s"]}
    sec["vm"] = vmf
    ok = [x for x in lat if x["attached_s"] is not None and x["grown_s"] is not None]
    samples = os.path.join(work, "latency-samples")
    with open(samples, "w") as fh:
        fh.write("# attached_s grown_s (seconds after CreateVolume), measured in the VM, in order\n")
        for x in ok:
            fh.write(f"{x['attached_s']:.3f} {x['grown_s']:.3f}\n")
    sec["latency_summary"] = {k: B.summary([x[k] for x in lat]) for k in ("attached_s", "grown_s",
                                                                          "daemon_latency_s")}
    sec["replay_measured"] = replay(binary, trace, cfg, samples) if ok else None
    sec["replay_model"] = replay(binary, trace, cfg)
    if sec["replay_measured"]:
        sec["vm_minus_replay"] = compare(vmf, sec["replay_measured"])
    sec["vm_minus_model"] = compare(vmf, sec["replay_model"])
