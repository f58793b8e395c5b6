"""`make bench` cannot rot: a smoke run (BENCH_SMOKE=1: tiny sizes, one trial per
figure) must complete and write well-formed results with every section present.
No timing is asserted."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))
SECTIONS = ["attach_latency", "write_stall", "scaling", "reaction", "fill_race", "footprint", "cost"]


def test_bench_smoke(tmp_path):
    out, doc = tmp_path / "results.json", tmp_path / "BENCHMARKS.md"
    r = subprocess.run([sys.executable, os.path.join(PROJECT, "bench", "bench.py"), "--out", str(out),
                        "--doc", str(doc)], env=dict(os.environ, BENCH_SMOKE="1"), cwd=PROJECT,
                       capture_output=True, text=True, timeout=1800)
    assert out.exists(), r.stderr[-4000:]
    res = json.loads(out.read_text())
    assert not res.get("errors"), (res.get("errors"), r.stderr[-4000:])
    assert r.returncode == 0, r.stderr[-4000:]
    for s in SECTIONS:
        assert s in res, s
    assert res["meta"]["smoke"] is True
    a = res["attach_latency"]["paths"]
    for p in ("dmscale-linear-ext4", "dmscale-daemon-linear-ext4", "dmscale-thin-ext4", "lvm-ext4",
              "btrfs-device-add"):
        assert a[p]["available"] and a[p]["failures"] == 0 and a[p]["latency_s"]["n"] >= 1, (p, a[p])
    # the daemon's row is its in-process append: its step line came from the daemon's journal
    assert a["dmscale-daemon-linear-ext4"]["steps_ms"]["total"]["n"] >= 1, a["dmscale-daemon-linear-ext4"]
    assert set(res["write_stall"]["paths"]) >= {"baseline-ext4", "dmscale-linear-ext4", "lvm-ext4"}
    # the buffered writer's row: it wrote through the attach, without errors
    b = res["write_stall"]["paths"]["dmscale-linear-ext4-buffered"]
    assert b["errors"] == 0 and b["trials"][0]["window"]["ios"] > 0 and b["trials"][0]["attach"]["ok"], b
    assert res["fill_race"]["targets"]["linear"]["trials"]
    text = doc.read_text()
    for h in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.", "## 7.", "Closing note"):
        assert h in text, h
