"""bench/replay_check.py (section 7b: the replay checked against the VM): the
scaling, the analysis of the guest writer's ticks, the rendering and the summary."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import render_replay_check  # noqa: E402
import replay_check as rc  # noqa: E402
import summary_cost  # noqa: E402

GIB = 1 << 30


def test_shipped_matches_config_c():
    """SHIPPED is what ec2/config.c's dms_config_defaults sets (scaled from it)."""
    with open(os.path.join(ROOT, "ec2", "config.c")) as fh:
        src = fh.read()
    body = src[src.index("void dms_config_defaults"):]
    body = body[:body.index("\n}\n")]
    for k, v in rc.SHIPPED.items():
        m = re.search(rf"c->{k} = ([^;]+);", body)
        assert m, k
        expr = m.group(1).replace("GIB", str(GIB))
        assert eval(expr, {}) == v, (k, m.group(1), v)   # noqa: S307 - numbers and GIB only


def test_scaled_config():
    c = rc.scaled_config()
    assert c == {"min_free_bytes": 10 * GIB // 25, "initial_volume_gib": 6, "min_volume_gib": 1,
                 "max_volume_gib": 60, "max_total_gib": 655, "fill_horizon_s": 8, "min_lead_s": 19}
    assert set(c).isdisjoint(rc.UNSCALED)


def test_scale_trace(tmp_path):
    src = tmp_path / "s.trace"
    src.write_text("# a header\n0 1073741824\n8 2147483648\n16 2147483648\n")
    end, peak, last = rc.scale_trace(str(src), str(tmp_path / "d.trace"))
    assert (end, peak, last) == (2.0, 2 * GIB / 25, 2 * GIB / 25)
    rows = [l.split() for l in (tmp_path / "d.trace").read_text().splitlines() if not l.startswith("#")]
    assert [(float(a), int(b)) for a, b in rows] == [(0.0, GIB // 25 + 1), (1.0, 2 * GIB // 25 + 1),
                                                     (2.0, 2 * GIB // 25 + 1)]


def test_grown_times_pairs_volumes_with_size_steps():
    g = GIB
    # an online resize seen in two steps for the second volume; a third never grows
    sizes = [[0.0, 4 * g], [5.0, int(4.98 * g)], [12.0, int(5.5 * g)], [12.5, int(6.96 * g)]]
    assert rc.grown_times(sizes, [1.0, 8.0, 20.0], [1, 2, 1]) == [5.0, 12.5, None]
    # a size change before a volume's CreateVolume is not its growth
    assert rc.grown_times([[0.0, 4 * g], [2.0, 5 * g], [9.0, 6 * g]], [5.0], [1]) == [9.0]


def test_vm_figures():
    g = GIB
    # ticks [t, trace bytes, held, fs size, fs free]; a shortfall between t=2 and t=3
    rows = [[0.0, 1 * g, 1 * g, 4 * g, 3 * g], [1.0, 3 * g, 3 * g, 4 * g, 1 * g],
            [2.0, 5 * g, 4 * g, 4 * g, 0], [3.0, 5 * g, 5 * g, 6 * g, 1 * g], [4.0, 4 * g, 4 * g, 6 * g, 2 * g]]
    w = {"rows": rows, "enospc": [[2.0, 3.0]]}
    f = rc.vm_figures(w, [1.5, 10.0], [2, 1], [2.5, None], 4)
    assert f["provisioned_end_gib"] == 6 and f["used_end_gib"] == 4
    assert abs(f["provisioned_over_used_end"] - 1.5) < 1e-9
    assert f["used_peak_gib"] == 5 and f["provisioned_at_peak_gib"] == 4   # the first tick at the peak
    assert abs(f["provisioned_over_used_at_peak"] - 0.8) < 1e-9
    assert f["min_free_gib"] == -1 and f["min_free_fs_gib"] == -1
    assert f["enospc_events"] == 1 and f["enospc_s"] == 1.0
    assert f["volumes_created"] == 1           # the second came after the trace's end
    d = rc.compare(f, {"provisioned_over_used_end": 1.25, "provisioned_over_used_at_peak": None,
                       "min_free_gib": 0.5, "enospc_events": 0, "volumes_created": 1})
    assert abs(d["provisioned_over_used_end"] - 0.25) < 1e-9 and d["provisioned_over_used_at_peak"] is None
    assert d["min_free_gib"] == -1.5 and d["enospc_events"] == 1 and d["volumes_created"] == 0


def section():
    fig = {"provisioned_over_used_end": 1.2, "provisioned_over_used_at_peak": 1.2, "min_free_gib": 0.5,
           "enospc_events": 0, "volumes_created": 12, "volume_sizes_gib": [1, 2]}
    return {"trace": "steady-400g", "size_divisor": 25, "time_divisor": 8, "rate_factor": 0.32,
            "scaled_trace": {"end_s": 264.75, "peak_gib": 16.04, "end_gib": 16.04}, "start_gib": 4,
            "model_seed": 15, "config_scaled": {"min_volume_gib": {"shipped": 25, "scaled": 1},
                              "min_free_bytes": {"shipped": 10 * GIB, "scaled": 10 * GIB // 25}},
            "vm": dict(fig, min_free_fs_gib=0.3), "replay_measured": dict(fig, provisioned_over_used_end=1.1),
            "replay_model": fig, "vm_minus_replay": rc.compare(fig, dict(fig, provisioned_over_used_end=1.1)),
            "latency_summary": {"attached_s": {"median": 2.0, "max": 3.0}, "grown_s": {"median": 4.0, "max": 6.0}},
            "latencies": [{}, {}], "wall_s": 400.0, "writer_wall_s": 270.0}


def test_render():
    md = render_replay_check.section({"meta": {"replay_check_commit": "abc1234"}, "replay_check": section()})
    assert md.startswith("## 7b.")
    assert "| VM: the daemon, measured | 1.200 | 1.200 | 0.50 | 0 | 12 |" in md
    assert "| difference VM − replay | +0.100 |" in md
    assert "`min_volume_gib` 25 → 1" in md and "commit abc1234" in md
    assert "`min_free_bytes` 10 GiB → 409.6 MiB" in md
    assert "6 % of the end used" in md
    assert "did not run" in render_replay_check.section({"meta": {}})
    assert render_replay_check.section({"meta": {"smoke": True}}) == ""


def test_summary():
    s = summary_cost.replay_check_summary({"replay_check": section()})
    assert s == {"replay_check": {"trace": "steady-400g", "scale": {"sizes": 25, "times": 8},
                                  "vm": {"end": 1.2, "peak": 1.2}, "replay": {"end": 1.1, "peak": 1.2}}}
    assert summary_cost.replay_check_summary({}) == {"replay_check": None}
