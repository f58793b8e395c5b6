"""`dmscale status --prometheus` output parsed by the Prometheus project's own
Python client (Debian's python3-prometheus-client): the cases of
tests/unit/test_metrics.c, printed by `test_metrics --dump CASE`."""
import math
import os
import subprocess

import pytest

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover
    pytest.fail("python3-prometheus-client is missing: run `make deps`", pytrace=False)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "tests", "test_metrics")


def dump(case):
    if not os.path.exists(BIN):
        pytest.skip(f"{BIN} not built (make check-unit builds it first)")
    out = subprocess.run([BIN, "--dump", case], check=True, capture_output=True)
    assert out.stderr == b""
    return out.stdout.decode("utf-8")  # strict: must be valid UTF-8


def parse(text):
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    seen = set()
    for f in fams.values():
        assert f.type in ("gauge", "counter"), f.name
        assert f.documentation, f.name
        assert f.samples, f"{f.name} has no samples"
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in seen, f"duplicate series {key}"
            seen.add(key)
            assert s.timestamp is None
            if f.type == "counter":
                assert s.name == f.name + "_total" and s.value >= 0
            else:
                assert s.name == f.name
    return fams


def value(fams, name, **labels):
    for s in fams[name].samples:
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((name, labels))


def test_linear():
    fams = parse(dump("linear"))
    assert {s.labels["pool"] for f in fams.values() for s in f.samples} == {"scratch"}
    assert value(fams, "dmscale_pool_state", state="active") == 1
    assert value(fams, "dmscale_pool_state", state="degraded") == 0
    assert value(fams, "dmscale_filesystem_free_bytes") == 251032411341
    assert value(fams, "dmscale_member_size_bytes", member="1", volume_id="vol-0f9e8d7c6b5a40312",
                 device="/dev/nvme2n1") == 150 * 2**30
    info = fams["dmscale_pool_info"].samples[0].labels
    assert info == {"pool": "scratch", "target": "linear", "fs_type": "ext4",
                    "uuid": "0b7c6d8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e",
                    "dm_device": "/dev/mapper/dmscale-scratch", "mountpoint": "/var/lib/docker"}
    assert value(fams, "dmscale_daemon_up") == 0
    assert not [n for n in fams if n.startswith("dmscale_thin_")]


def test_thin():
    fams = parse(dump("thin"))
    assert value(fams, "dmscale_thin_pool_virtual_bytes") == 16 * 2**40
    assert value(fams, "dmscale_thin_pool_mode", mode="out_of_data_space") == 1
    assert sum(s.value for s in fams["dmscale_thin_pool_mode"].samples) == 1
    assert value(fams, "dmscale_thin_pool_needs_check") == 1


def test_daemon():
    fams = parse(dump("daemon"))
    assert fams["dmscale_daemon_volumes_provisioned"].type == "counter"
    assert value(fams, "dmscale_daemon_volumes_provisioned") == 3
    assert value(fams, "dmscale_daemon_ec2_api_throttled") == 2
    assert value(fams, "dmscale_daemon_time_to_full_seconds") == math.inf
    assert value(fams, "dmscale_daemon_fill_rate_bytes_per_second") == 100 * 2**20
    assert value(fams, "dmscale_daemon_last_attach_duration_seconds", stage="attached") == 12.75
    assert value(fams, "dmscale_daemon_last_attach_duration_seconds", stage="appended") == 38.5
    assert value(fams, "dmscale_daemon_last_ec2_error_info", code="RequestLimitExceeded") == 1
    assert value(fams, "dmscale_daemon_up") == 1


def test_hostile_labels_round_trip():
    fams = parse(dump("hostile"))
    pools = {s.labels["pool"] for f in fams.values() for s in f.samples}
    assert pools == {'a"b\\c\nd'}
    assert "evil" not in fams
    assert fams["dmscale_pool_info"].samples[0].labels["mountpoint"] == \
        '/mnt/x"}\n# TYPE evil gauge\nevil{a="1"} 1'
    s0 = [s for s in fams["dmscale_member_size_bytes"].samples if s.labels["member"] == "0"][0]
    assert s0.labels["volume_id"] == 'vol-"\\\n\ufffd\u00e9'
    assert s0.labels["device"] == '/dev/x,y="z"}'
    assert value(fams, "dmscale_pool_state", state='weird"state') == 1
    assert value(fams, "dmscale_member_present", member="1") == 0
    assert value(fams, "dmscale_daemon_policy_reason_info", reason='x"y\\z\nw') == 1
    assert [s.labels["volume_id"] for s in fams["dmscale_pool_pending_volume_info"].samples] == \
        ["vol-0123456789abcdef0", "vol-\\n"]
