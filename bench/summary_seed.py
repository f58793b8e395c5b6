"""The seed's part of results.json's `summary` object (issue 15): figures from
running amazon-ebs-autoscale itself (bench/seed.py), for scripts.

seed_summary(results) -> dict; seed_measured is true only when the side-by-side
run completed (results["seed"]["measured"])."""

GIB = 1 << 30


def _pu(e):
    try:
        return e["provisioned_bytes"] / e["used_end"]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


def _med(xs):
    v = sorted(x for x in xs if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def seed_summary(results):
    sec = (results or {}).get("seed") or {}
    out = {"seed_measured": bool(sec.get("measured")) or any(
        "used_end" in e for n, e in sec.get("systems", {}).items() if n.startswith("seed-"))}
    if not out["seed_measured"]:
        return out
    systems = {}
    for name, e in sec.get("systems", {}).items():
        systems[name] = {
            "reaction_s": e.get("reaction_s"),
            "create_to_grown_s_median": _med(e.get("create_to_grown_s") or []),
            "writer_stall_max_s": (e.get("stall") or {}).get("max_gap_s"),
            "enospc": e.get("error") == "ENOSPC",
            "trace_error": e.get("error"),
            "volumes_added": e.get("volumes_added"),
            "api_calls_per_volume": e.get("api_calls_per_volume"),
            "provisioned_over_used": _pu(e),
            "idle_cpu_percent": e.get("idle_cpu_percent"),
            "memory_peak_kib": e.get("memory_peak_kib"),
        }
    out["seed_systems"] = systems
    kills = sec.get("kill_steps") or []
    out["seed_orphans_after_sigkill"] = {k["killed_during"]: k["orphaned_no_delete_on_termination"] for k in kills
                                         if not k.get("not_run")}
    out["seed_trace"] = {"rate_gib_s": sec.get("trace", {}).get("rate_bps", 0) / GIB,
                         "end_gib": sec.get("trace", {}).get("end_bytes", 0) / GIB}
    out["seed_shims"] = [s["name"] for s in sec.get("shims", [])]
    return out
