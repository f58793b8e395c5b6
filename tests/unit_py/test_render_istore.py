"""bench/render_istore.py and the istore_stripe_over_single summary field (issue 16):
section 11 renders the striped and single pools' MiB/s and the ratio, and the
summary carries the ratio. Run: python3 -m pytest tests/unit_py (from the project root)."""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "..", "bench")
sys.path.insert(0, BENCH)

import render  # noqa: E402
import summary  # noqa: E402


def sm(vals):
    v = sorted(vals)
    return {"n": len(v), "median": v[len(v) // 2], "min": v[0], "max": v[-1]}


def istore_section():
    a, b = [210.0, 190.0, 205.0, 200.0, 230.0], [100.0, 110.0, 95.0, 105.0, 90.0]
    return {"trials_per_pool": 5, "write_mib": 256, "iodepth": 16, "disk_gib": 1,
            "tables": {"isa": ["0 4186112 striped 2 512 259:1 2048 259:2 2048", "4186112 2093056 linear 259:3 2048"],
                       "isb": ["0 2093056 linear 259:4 2048"]},
            "stripe_segment_bytes": 4186112 * 512, "striped_segment": True,
            "fio": "rw=write bs=1M ioengine=libaio iodepth=16 direct=1 offset=0 size=256M on the pool's dm device",
            "pools": {"striped": {"desc": "2 instance-store disks + 1 EBS", "mib_s": a, "summary": sm(a)},
                      "single": {"desc": "1 disk", "mib_s": b, "summary": sm(b)}},
            "striped_over_single": 205.0 / 100.0}


def results():
    with open(os.path.join(BENCH, "results.json")) as f:
        res = json.load(f)
    res.pop("istore", None)
    return res


def test_section_11_renders_figures_and_ratio():
    res = results()
    res["istore"] = istore_section()
    res["meta"]["istore_commit"] = "abc1234"
    res["meta"]["istore_wall_s"] = 321.0
    doc = render.render(res)
    assert "## 11. Instance-store tier: striped write throughput" in doc
    assert "| striped | 2 instance-store disks + 1 EBS | 205.0 | 190.0 | 230.0 | 5 |" in doc
    assert "| single | 1 disk | 100.0 | 90.0 | 110.0 | 5 |" in doc
    assert "**Striped ÷ single: 2.05**" in doc
    assert "bounded by the emulator" in doc
    assert "commit abc1234, 321 s" in doc
    # section 11 sits after section 10 and before the closing note
    assert doc.index("## 11.") > doc.index("## 10.") and doc.index("## 11.") < doc.index("## Closing note")


def test_section_11_placeholder_when_not_run():
    res = results()
    doc = render.render(copy.deepcopy(res))
    assert "## 11. Instance-store tier: striped write throughput" in doc
    assert "did not run" in doc.split("## 11.")[1].split("## Closing")[0]


def test_summary_field():
    res = results()
    assert "istore_stripe_over_single" in summary.summary(res)
    assert summary.summary(res)["istore_stripe_over_single"] is None
    res["istore"] = istore_section()
    assert summary.summary(res)["istore_stripe_over_single"] == 2.05
