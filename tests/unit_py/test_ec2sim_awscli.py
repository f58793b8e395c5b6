"""tests/vm/ec2sim.py answers the calls amazon-ebs-autoscale makes, made by Debian's
own awscli (the bench runs upstream against the simulator: bench/seed.py).

Each aws command below is the one upstream's bin/create-ebs-volume, bin/ebs-autoscale
and shared/utils.sh run (same options and filters), pointed at the simulator with
--endpoint-url (Debian 12's awscli 2.9.19 predates AWS_ENDPOINT_URL_EC2) and with
credentials from the simulator's IMDS (AWS_EC2_METADATA_SERVICE_ENDPOINT).
Run: python3 -m pytest tests/unit_py   (from the project root; needs awscli, tools/deps.sh)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vm"))
import ec2sim  # noqa: E402

AWS = "/usr/bin/aws"
pytestmark = pytest.mark.skipif(not os.access(AWS, os.X_OK), reason="Debian's awscli missing: run tools/deps.sh")


@pytest.fixture
def sim():
    s = ec2sim.EC2Sim(create_latency_s=0.05, attach_latency_s=0.05, smithy_verify=False, imds_v1=True).start()
    yield s
    s.stop()


def aws(sim, *args):
    home = tempfile.mkdtemp()
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "AWS_EC2_METADATA_SERVICE_ENDPOINT": sim.imds_url + "/",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""}
    try:
        p = subprocess.run([AWS, "--endpoint-url", sim.ec2_url] + list(args), env=env, capture_output=True,
                           text=True, timeout=120)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert p.returncode == 0, f"aws {args}: rc {p.returncode}\n{p.stderr}"
    return p.stdout


def test_upstream_create_attach_sequence(sim):
    iid, r = sim.instance_id, "us-east-1"
    # shared/utils.sh get_metadata with IMDSV2="": a tokenless GET (IMDSv1)
    with urllib.request.urlopen(sim.imds_url + "/latest/meta-data/instance-id") as f:
        assert f.read().decode() == iid
    # create-ebs-volume: instance tags, then three checks, create, wait, attach, DeleteOnTermination
    tags = json.loads(aws(sim, "ec2", "describe-tags", "--region", r, "--filters", f"Name=resource-id,Values={iid}"))
    assert tags["Tags"] == []
    for flt in (f"Name=attachment.instance-id,Values={iid}", f"Name=tag:source-instance,Values={iid}"):
        assert json.loads(aws(sim, "ec2", "describe-volumes", "--region", r, "--filters", flt))["Volumes"] == []
    total = aws(sim, "ec2", "describe-volumes", "--region", r, "--filters", f"Name=tag:source-instance,Values={iid}",
                "--query", "sum(Volumes[].Size)", "--output", "text")
    assert total.strip() == "0"
    spec = (f"ResourceType=volume,Tags=[{{Key=source-instance,Value={iid}}},"
            "{Key=amazon-ebs-autoscale-creation-time,Value=2026-12-02 03:00:00 UTC+0000}]")
    vol = json.loads(aws(sim, "ec2", "create-volume", "--region", r, "--availability-zone", "us-east-1a",
                         "--size", "150", "--volume-type", "gp3", "--iops", "3000", "--throughput", "125",
                         "--encrypted", "--tag-specification", spec))
    vid = vol["VolumeId"]
    assert vol["Size"] == 150 and vol["Encrypted"] is True
    aws(sim, "ec2", "wait", "volume-available", "--region", r, "--volume-ids", vid)
    aws(sim, "ec2", "attach-volume", "--region", r, "--device", "/dev/xvdba", "--instance-id", iid,
        "--volume-id", vid)
    aws(sim, "ec2", "modify-instance-attribute", "--region", r, "--instance-id", iid, "--block-device-mappings",
        f"DeviceName=/dev/xvdba,Ebs={{DeleteOnTermination=true,VolumeId={vid}}}")
    assert sim.bdm["/dev/xvdba"]["dot"] is True
    # ebs-autoscale get_num_devices: attached volumes carrying its creation-time tag
    n = json.loads(aws(sim, "ec2", "describe-volumes", "--region", r, "--filters", f"Name=attachment.instance-id,Values={iid}",
                       "Name=tag-key,Values=amazon-ebs-autoscale-creation-time"))["Volumes"]
    assert [v["VolumeId"] for v in n] == [vid]
    assert sim.violations == []
    assert sim.terminate_instance() == {}


def test_imds_v1_only_when_allowed():
    s = ec2sim.EC2Sim(smithy_verify=False).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(s.imds_url + "/latest/meta-data/instance-id")
        assert e.value.code == 401
    finally:
        s.stop()
