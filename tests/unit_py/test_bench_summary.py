"""bench/summary.py: the stable `summary` object of results.json and the step line parser."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import summary  # noqa: E402


def med(x, n=5):
    return {"n": n, "median": x, "min": x, "max": x}


def results():
    return {
        "meta": {"dmscale_commit": "abc1234", "dirty": False},
        "attach_latency": {"paths": {
            "dmscale-linear-ext4": {"latency_s": med(0.5), "done_s": med(0.6)},
            "dmscale-daemon-linear-ext4": {"latency_s": med(0.3)},
            "lvm-ext4": {"latency_s": med(4.0)},
            "dmscale-linear-xfs": {"latency_s": med(0.8)},
            "lvm-xfs": {"latency_s": med(3.2), "done_s": med(3.3)},
            "dmscale-thin-ext4": {"latency_s": med(0.9), "done_s": med(0.9)},
        }},
        "write_stall": {"paths": {"dmscale-linear-ext4": {"max_gap_ms": med(20.0)},
                                  "lvm-ext4": {"max_gap_ms": med(400.0, n=6)},
                                  "dmscale-linear-xfs": {"max_gap_ms": med(30.0)},
                                  "lvm-xfs": {"max_gap_ms": med(60.0)},
                                  "dmscale-linear-ext4-buffered": {"max_gap_ms": med(15.0)},
                                  "lvm-ext4-buffered": {"max_gap_ms": med(600.0)}}},
        "flat": {"small_latency_s": med(0.5), "large_latency_s": med(0.55)},
    }


def test_fields_and_direction():
    s = summary.summary(results())
    assert list(s)[:2] == ["commit", "dirty"]
    assert s["commit"] == "abc1234" and s["dirty"] is False
    # dmscale ÷ LVM, large ÷ small, thin ÷ linear: below 1 favours dmscale
    assert abs(s["attach_ratio_ext4"] - 0.125) < 1e-9
    assert abs(s["attach_ratio_xfs"] - 0.25) < 1e-9
    assert abs(s["attach_ratio_ext4_daemon"] - 0.075) < 1e-9
    assert abs(s["attach_26_over_2"] - 1.1) < 1e-9
    assert abs(s["stall_ratio_ext4"] - 0.05) < 1e-9
    assert abs(s["stall_ratio_xfs"] - 0.5) < 1e-9
    assert abs(s["stall_ratio_ext4_buffered"] - 0.025) < 1e-9
    assert abs(s["thin_over_linear_attach"] - 1.5) < 1e-9
    assert s["trials"] == 5


def test_partial_run_has_nones_not_guesses():
    r = results()
    del r["flat"]
    r["write_stall"]["paths"]["lvm-ext4"]["max_gap_ms"] = med(None, n=0)
    r["meta"]["partial"] = "sections x from commit a; y kept from commit b"
    r["meta"]["dirty"] = True
    s = summary.summary(r)
    assert s["attach_26_over_2"] is None
    assert s["stall_ratio_ext4"] is None
    del r["write_stall"]["paths"]["lvm-xfs"]                          # a smoke run has no xfs rows
    assert summary.summary(r)["stall_ratio_xfs"] is None
    del r["attach_latency"]["paths"]["dmscale-daemon-linear-ext4"]     # a run without a simulator
    assert summary.summary(r)["attach_ratio_ext4_daemon"] is None
    assert s["dirty"] is True
    assert s["partial"].startswith("sections x")
    assert summary.summary({})["trials"] == 0


def test_hook_adds_fields():
    summary.FIELDS.append(lambda res: {"provisioned_over_used": 1.25})
    try:
        assert summary.summary(results())["provisioned_over_used"] == 1.25
    finally:
        summary.FIELDS.pop()


def test_parse_steps():
    line = ("dmscale: attach /dev/nvme3n1: pool p member 3 of 3 steps: lock_ms=0.120 read_ms=4.500 "
            "check_ms=1.000 write_new_ms=2.000 write_old_a_ms=1.500 write_old_b_ms=1.400 load_ms=0.300 "
            "resume_ms=0.900 resize_ms=30.000 udev_ms=12.000 unpend_ms=0.100 other_ms=3.000 total_ms=57.820")
    st = summary.parse_steps(line)
    assert st["lock"] == 0.12 and st["write_old_b"] == 1.4 and st["total"] == 57.82
    assert list(st)[-1] == "total" and len(st) == 13
    assert summary.parse_steps("no such line") is None
    assert summary.parse_steps(None) is None
