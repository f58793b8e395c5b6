"""The stable top-level `summary` object of bench/results.json (issue 14).

One function builds it from the sections of a run; dashboards and scripts read
only this object. Every ratio is dmscale ÷ the other path (or the large pool ÷
the small one, thin ÷ linear): a value below 1 favours dmscale. A figure the
run did not measure is None, never a guess.

Other fields are added through FIELDS: append a function (res) -> dict of new
keys; summary() merges them in order (e.g. issue 15's provisioned_over_used,
fleet, seed_measured). A field function must not raise on a partial run:
return {} or None values for what is missing."""


import json
import os
import re

STEPS_RE = re.compile(r" steps:((?: [a-z_]+_ms=[0-9.]+)+)")


def parse_steps(line):
    """{"lock": 0.12, ..., "total": 812.3} (ms) from the step line an attach
    logs (dmscale/steps.c), or None."""
    m = STEPS_RE.search(line or "")
    if not m:
        return None
    return {k[:-3]: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def _median(summ):
    return summ.get("median") if isinstance(summ, dict) else None


def _ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def _path(res, section, name):
    return res.get(section, {}).get("paths", {}).get(name, {})


def _row_ratio(res, section, a, b, key):
    """Median of row a ÷ median of row b, both `key` of `section`'s paths."""
    return _ratio(_median(_path(res, section, a).get(key)), _median(_path(res, section, b).get(key)))


def attach_fields(res):
    """Issue 14's targets: attach vs LVM, flatness, stall, thin vs linear."""
    out = {}
    for fs in ("ext4", "xfs"):
        out[f"attach_ratio_{fs}"] = _row_ratio(res, "attach_latency", f"dmscale-linear-{fs}", f"lvm-{fs}", "latency_s")
    # the daemon's in-process append (issue 14, item 1) against the same LVM rows
    out["attach_ratio_ext4_daemon"] = _row_ratio(res, "attach_latency", "dmscale-daemon-linear-ext4", "lvm-ext4",
                                                 "latency_s")
    fl = res.get("flat", {})
    out["attach_26_over_2"] = _ratio(_median(fl.get("large_latency_s")), _median(fl.get("small_latency_s")))
    for fs in ("ext4", "xfs"):
        out[f"stall_ratio_{fs}"] = _row_ratio(res, "write_stall", f"dmscale-linear-{fs}", f"lvm-{fs}", "max_gap_ms")
    # the same on ext4 with a buffered writer (bench.py section 2, rows ending in -buffered)
    out["stall_ratio_ext4_buffered"] = _row_ratio(res, "write_stall", "dmscale-linear-ext4-buffered",
                                                  "lvm-ext4-buffered", "max_gap_ms")
    out["thin_over_linear_attach"] = _row_ratio(res, "attach_latency", "dmscale-thin-ext4", "dmscale-linear-ext4",
                                                "done_s")
    return out


def trials_field(res):
    """The smallest number of successful trials behind any ratio above."""
    ns = []
    for name in ("dmscale-linear-ext4", "lvm-ext4", "dmscale-linear-xfs", "lvm-xfs", "dmscale-thin-ext4"):
        s = _path(res, "attach_latency", name).get("latency_s")
        if isinstance(s, dict) and s.get("n"):
            ns.append(s["n"])
    for name in ("dmscale-linear-ext4", "lvm-ext4"):
        s = _path(res, "write_stall", name).get("max_gap_ms")
        if isinstance(s, dict) and s.get("n"):
            ns.append(s["n"])
    fl = res.get("flat", {})
    for k in ("small_latency_s", "large_latency_s"):
        if isinstance(fl.get(k), dict) and fl[k].get("n"):
            ns.append(fl[k]["n"])
    return {"trials": min(ns) if ns else 0}


def cost_fields(res):
    """Issue 15's cost and fleet figures (bench/summary_cost.py) from the
    simulations' results: res["cost_sim"] when a run merged them, else
    bench/results-cost.json as `make bench-cost` (run by `make bench`) wrote it."""
    import summary_cost
    rc = res.get("cost_sim")
    if rc is None:
        try:
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-cost.json")) as fh:
                rc = json.load(fh)
        except (OSError, ValueError):
            rc = None
    return summary_cost.cost_summary(rc)


def replay_check_fields(res):
    """Issue 15: section 7b, the replay checked against the VM on one scaled trace (bench/summary_cost.py)."""
    import summary_cost
    return summary_cost.replay_check_summary(res)


def seed_fields(res):
    """Issue 15's side-by-side run of amazon-ebs-autoscale itself (bench/summary_seed.py)."""
    import summary_seed
    return summary_seed.seed_summary(res)


def istore_fields(res):
    """Issue 16: the striped instance-store tier's write MiB/s over a single member's (section 11)."""
    return {"istore_stripe_over_single": (res.get("istore") or {}).get("striped_over_single")}


# Hook for other sections' fields: append functions here (order = key order).
FIELDS = [attach_fields, trials_field, cost_fields, replay_check_fields, seed_fields, istore_fields]


def summary(res):
    """The summary object: provenance first, then every FIELDS function's keys."""
    m = res.get("meta", {})
    out = {"commit": m.get("dmscale_commit"), "dirty": bool(m.get("dirty"))}
    if m.get("partial"):
        out["partial"] = m["partial"]
    for fn in FIELDS:
        out.update(fn(res) or {})
    return out
