"""bench/summary_cost.py: the cost part of the bench summary (issue 15)."""
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import summary_cost  # noqa: E402


def test_fields_from_a_results_file():
    rc = {
        "replay": {"results": [
            {"trace": "a", "policy": "dmscale", "provisioned_over_used_end": 1.2,
             "provisioned_end_over_peak_used": 1.1, "enospc_events": 1},
            {"trace": "a", "policy": "seed", "provisioned_over_used_end": 1.6,
             "provisioned_end_over_peak_used": 1.6, "enospc_events": 0},
            {"trace": "b", "policy": "dmscale", "provisioned_over_used_end": 1.25,
             "provisioned_end_over_peak_used": 1.25, "enospc_events": 2},
        ]},
        "fleet": {"runs": [
            {"backoff": "fixed-2^i", "instances": 500, "throttled_fraction": 0.5},
            {"backoff": "full-jitter", "instances": 500, "throttled_fraction": 0.01, "enospc": 0,
             "leaked_volumes": 0, "p99_time_to_space_s": 80.0},
        ]},
    }
    s = summary_cost.cost_summary(rc)
    assert s["provisioned_over_used"] == {"a": 1.2, "b": 1.25}
    assert s["seed_provisioned_over_used"] == {"a": 1.6}
    assert s["provisioned_over_peak_used"] == {"a": 1.1, "b": 1.25}
    assert s["enospc_events"] == 3
    assert s["fleet"] == {"instances": 500, "throttled_fraction": 0.01, "enospc": 0, "leaked_volumes": 0,
                          "p99_time_to_space_s": 80.0}
    json.dumps(s)


def test_missing_inputs_give_none():
    for rc in (None, {}, {"replay": {}, "fleet": {"runs": []}}):
        s = summary_cost.cost_summary(rc)
        assert s["provisioned_over_used"] is None and s["fleet"] is None and s["enospc_events"] is None


def test_the_committed_results_file():
    with open(os.path.join(ROOT, "bench", "results-cost.json")) as fh:
        s = summary_cost.cost_summary(json.load(fh))
    # every reference trace of bench/traces/, no more (a trace added without
    # `make bench-cost` leaves the committed results stale)
    traces = {os.path.basename(p)[:-len(".trace")]
              for p in glob.glob(os.path.join(ROOT, "bench", "traces", "*.trace"))}
    assert {"steady-400g", "genomics", "bursts", "big-1.5t", "step-500m"} <= traces
    assert set(s["provisioned_over_used"]) == traces
    assert s["enospc_events"] == 0 and s["fleet"]["instances"] == 500
