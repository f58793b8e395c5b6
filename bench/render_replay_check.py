"""Section 7b of docs/BENCHMARKS.md: the cost replay checked against the VM
(bench/replay_check.py writes res["replay_check"]); render.py includes it after
section 7."""


def _f(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def _d(x, nd=2):
    return "–" if x is None else f"{x:+.{nd}f}"


def _v(key, v):
    """A config value as the docs write it (bytes in GiB or MiB)."""
    if not key.endswith("_bytes"):
        return str(v)
    return f"{v / (1 << 30):g} GiB" if v % (1 << 30) == 0 else f"{v / (1 << 20):.1f} MiB"


def _row(name, r, fmt=_f):
    return (f"| {name} | {fmt(r.get('provisioned_over_used_end'), 3)} | {fmt(r.get('provisioned_over_used_at_peak'), 3)} "
            f"| {fmt(r.get('min_free_gib'), 2)} | {fmt(r.get('enospc_events'), 0)} | {fmt(r.get('volumes_created'), 0)} |")


def section(res):
    c = (res or {}).get("replay_check")
    out = ["## 7b. The cost replay checked against the VM\n"]
    w = out.append
    if not c:
        if (res or {}).get("meta", {}).get("smoke"):
            return ""       # not part of the BENCH_SMOKE run
        w("(section did not run)\n")
        return "\n".join(out) + "\n"
    cfg = ", ".join(f"`{k}` {_v(k, v['shipped'])} → {_v(k, v['scaled'])}" for k, v in c["config_scaled"].items())
    st = c["scaled_trace"]
    vm, rm, mo = c["vm"], c.get("replay_measured") or {}, c.get("replay_model") or {}
    ls = c.get("latency_summary", {})
    m = (res.get("meta") or {})
    how = (f"Run on its own (`bench/bench.py --only replay_check`, commit {m['replay_check_commit']})"
           if m.get("replay_check_commit") else "Part of this run")
    w(f"`{c['trace']}` scaled down (sizes ÷ {c['size_divisor']}, times ÷ {c['time_divisor']}: the same shape, "
      f"{st['end_gib']:.2f} GiB in {st['end_s']:.0f} s, rates × {c['rate_factor']:.2f}) from a "
      f"{c['start_gib']} GiB pool, written in the VM with posix_fallocate while `dmscale daemon` ran with the "
      f"shipped defaults, sizes and look-ahead times scaled the same way ({cfg}; poll interval, percentages, "
      f"safety factor and counts unchanged); then `dmscale-replay` on the same scaled trace and config, fed the "
      f"VM's per-volume latencies, and with its own latency model. {how}, {c['wall_s']:.0f} s "
      f"(writer {c.get('writer_wall_s', 0):.0f} s). Method: [COST.md](COST.md#checked-against-the-vm).\n")
    w("| | provisioned ÷ used at end | provisioned ÷ used at peak | min free (GiB) | ENOSPC events | "
      "volumes created |")
    w("|---|---|---|---|---|---|")
    w(_row("VM: the daemon, measured", vm))
    if rm:
        w(_row("replay, the VM's latencies", rm))
        w(_row("difference VM − replay", c.get("vm_minus_replay") or {}, _d))
    w(_row(f"replay, latency model (seed {c.get('model_seed', '–')})", mo))
    w("")
    sizes_vm = vm.get("volume_sizes_gib") or []
    vmin = c["config_scaled"].get("min_volume_gib", {}).get("scaled", 1)
    w(f"Measured per volume (n = {len(c.get('latencies', []))}): CreateVolume ⇒ attached as the daemon saw it, "
      f"median {_f((ls.get('attached_s') or {}).get('median'), 1)} s "
      f"(max {_f((ls.get('attached_s') or {}).get('max'), 1)}); CreateVolume ⇒ filesystem grown, median "
      f"{_f((ls.get('grown_s') or {}).get('median'), 1)} s (max {_f((ls.get('grown_s') or {}).get('max'), 1)}); "
      f"the model's need ⇒ space is {_f(mo.get('mean_time_to_space_s'), 1)} s on average. Volume sizes (GiB): "
      f"VM {sizes_vm}, replay {rm.get('volume_sizes_gib', '–')}.")
    w(f"Min free is provisioned − used in both; the filesystem's own free space in the VM went down to "
      f"{_f(vm.get('min_free_fs_gib'), 2)} GiB (ext4 keeps ~2 % of each member for its metadata, and the daemon "
      "decides on what statvfs reports, so it asks a little earlier than the replay). At this scale the smallest "
      f"volume ({vmin} GiB) is {100 * vmin / max(st['end_gib'], 1e-9):.0f} % of the end used: one volume more or "
      "less moves the end ratio by that much. The timings are TCG's and vary from run to run: reported, not "
      "asserted.\n")
    return "\n".join(out) + "\n"
