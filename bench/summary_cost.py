"""The cost part of bench/results.json's `summary` (issue 15), from
bench/results-cost.json (written by bench/cost.py, `make bench-cost`).

    cost_summary(results_cost) -> dict with
      provisioned_over_used        {trace: provisioned / used at the job's end}, dmscale,
                                   shipped defaults (the seed of the latency model as in the file)
      provisioned_over_peak_used   {trace: provisioned at the end / the trace's peak used}, dmscale
      enospc_events                ENOSPC events summed over the traces, dmscale
      seed_provisioned_over_used   {trace: provisioned / used at the end}, the seed's policy
                                   (amazon-ebs-autoscale, modelled) on the same traces
      fleet                        {instances, throttled_fraction, enospc, leaked_volumes,
                                    p99_time_to_space_s}: the simulated fleet with the shipped
                                   client (full-jitter backoff)

Missing inputs give None values, never an exception.

    replay_check_summary(res) -> {"replay_check": {trace, scale, vm, replay}} from
    bench/results.json's section 7b (bench/replay_check.py): the scaled trace's
    name, its scale ({"sizes": divisor, "times": divisor}), and provisioned/used
    at the end and at the peak in the VM ({"end", "peak"}) and in the replay fed
    the VM's latencies; {"replay_check": None} when the section did not run."""


def _by_trace(results, policy, key):
    return {r["trace"]: r.get(key) for r in results if r.get("policy") == policy}


def cost_summary(results_cost):
    rc = results_cost or {}
    rep = (rc.get("replay") or {}).get("results") or []
    fleet_runs = (rc.get("fleet") or {}).get("runs") or []
    jit = next((r for r in fleet_runs if r.get("backoff") == "full-jitter"), None)
    dm = [r for r in rep if r.get("policy") == "dmscale"]
    return {
        "provisioned_over_used": _by_trace(rep, "dmscale", "provisioned_over_used_end") or None,
        "provisioned_over_peak_used": _by_trace(rep, "dmscale", "provisioned_end_over_peak_used") or None,
        "enospc_events": sum(r.get("enospc_events", 0) for r in dm) if dm else None,
        "seed_provisioned_over_used": _by_trace(rep, "seed", "provisioned_over_used_end") or None,
        "fleet": None if not jit else {
            "instances": jit.get("instances"),
            "throttled_fraction": jit.get("throttled_fraction"),
            "enospc": jit.get("enospc"),
            "leaked_volumes": jit.get("leaked_volumes"),
            "p99_time_to_space_s": jit.get("p99_time_to_space_s"),
        },
    }


def replay_check_summary(res):
    c = (res or {}).get("replay_check")
    if not c or not c.get("vm"):
        return {"replay_check": None}

    def ratios(r):
        r = r or {}
        return {"end": r.get("provisioned_over_used_end"), "peak": r.get("provisioned_over_used_at_peak")}
    return {"replay_check": {
        "trace": c.get("trace"),
        "scale": {"sizes": c.get("size_divisor"), "times": c.get("time_divisor")},
        "vm": ratios(c.get("vm")),
        "replay": ratios(c.get("replay_measured")),
    }}
