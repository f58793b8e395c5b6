"""bench/render_seed.py and bench/summary_seed.py: once amazon-ebs-autoscale itself
was measured (bench/seed.py), no modelled seed row is left in the rendered doc, and
the summary says so. Run: python3 -m pytest tests/unit_py (from the project root)."""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "..", "bench")
sys.path.insert(0, BENCH)

import render  # noqa: E402
from summary_seed import seed_summary  # noqa: E402

GIB = 1 << 30


def trace(prov_gib, used_gib, reaction, calls, vols, error=None):
    return {"reaction_s": reaction, "create_to_grown_s": [9.5] * vols, "stall": {"max_gap_s": 1.5},
            "slowest_step_s": 0.4, "error": error, "volumes_added": vols, "api_calls_per_volume": calls / vols,
            "api_calls_by_action": {"CreateVolume": vols}, "provisioned_bytes": prov_gib * GIB,
            "used_end": used_gib * GIB, "wall_s": 100.0, "memory_peak_kib": 1000}


def seed_section():
    return {"measured": True, "upstream_commit": "8c8ac28914bf", "awscli": "aws-cli/2.9.19 Python/3.11.2",
            "aws_maxrss_kib": 76684, "idle_s": 60.0,
            "trace": {"first_fraction": 0.55, "end_bytes": 300 * GIB, "rate_bps": 2 * GIB, "step_bytes": 512 << 20,
                      "initial_gib": 200},
            "shims": [{"name": "aws wrapper", "files": "bench/guest/seed/aws", "why": "old awscli"}],
            "systems": {"dmscale": dict(trace(1700, 300, 0.4, 10, 1), idle_cpu_percent=0.5),
                        "seed-btrfs": dict(trace(500, 300, 6.0, 18, 2, "ENOSPC"), idle_cpu_percent=20.0,
                                           install_s=300.0),
                        "seed-lvm.ext4": dict(trace(500, 300, 7.0, 18, 2), install_s=310.0)},
            "kill_steps": [{"killed_during": "CreateVolume", "new_volumes": 1, "orphaned_no_delete_on_termination": 1,
                            "attached_unused_until_termination": 0}]}


def results():
    with open(os.path.join(BENCH, "results.json")) as f:
        return json.load(f)


def test_measured_seed_replaces_every_model_row():
    res = results()
    res.pop("seed", None)
    before = render.render(copy.deepcopy(res))
    assert "seed (model)" in before and "seed loop: crossing" in before
    res["seed"] = seed_section()
    doc = render.render(res)
    assert "seed (model)" not in doc
    assert "seed loop: crossing" not in doc
    assert "| seed: df every 2 s |" not in doc
    assert "## 10. Side by side with amazon-ebs-autoscale itself" in doc
    assert "| seed-btrfs | 6.00 |" in doc and "**yes** (ENOSPC)" in doc
    assert "| CreateVolume | 1 | 1 | 0 |" in doc
    assert "aws wrapper" in doc


def test_summary():
    assert seed_summary({}) == {"seed_measured": False}
    s = seed_summary({"seed": seed_section()})
    assert s["seed_measured"] is True
    assert s["seed_systems"]["seed-btrfs"]["enospc"] is True
    assert abs(s["seed_systems"]["dmscale"]["provisioned_over_used"] - 1700 / 300) < 1e-9
    assert s["seed_orphans_after_sigkill"] == {"CreateVolume": 1}
    bad = seed_section()
    bad["measured"] = False          # stopped part-way: measured as long as one seed mode ran its trace
    assert seed_summary({"seed": bad})["seed_measured"] is True
    del bad["systems"]["seed-btrfs"], bad["systems"]["seed-lvm.ext4"]
    assert seed_summary({"seed": bad}) == {"seed_measured": False}


def test_lvm_phase_rerun_names_both_runs_and_no_failure():
    """A SEED_PHASES=lvm re-run merged into an earlier btrfs run: both runs named,
    lvm.ext4's own idle window said, and the earlier failure no longer shown."""
    res = results()
    res.pop("errors", None)
    sec = seed_section()
    sec["wall_s"] = 1500.0
    sec["systems"]["seed-lvm.ext4"].update(idle_window_s=61.0, idle_cpu_percent=25.0, idle_memory_peak_kib=900)
    sec["phases"] = {"dmscale and seed-btrfs": 875.0, "dmscale and seed-btrfs commit": "aaaaaaa",
                     "first_run_error": "VMError: install.sh -f lvm.ext4 failed rc=3",
                     "seed-lvm.ext4 and kill steps commit": "bbbbbbb"}
    res["seed"] = sec
    doc = render.render(res)
    assert "two runs" in doc and "aaaaaaa" in doc and "bbbbbbb" in doc
    assert "61 s window of its own" in doc
    assert "| seed-lvm.ext4 | 25.000 | 900 |" in doc
    assert "stopped part-way" not in doc and "failed rc=3" not in doc
    assert "| seed-lvm.ext4 | not measured" not in doc
