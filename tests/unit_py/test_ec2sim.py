"""Self-test of tests/vm/ec2sim.py with an independent reference SigV4 signer.

Run: python3 -m pytest tests/unit_py   (from the project root)
"""
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vm"))
import ec2sim  # noqa: E402

NS = {"e": ec2sim.NS}
SUITE = os.path.join(ec2sim.shared_dir(), "aws", "sigv4-testsuite")


# ------------------------------------------------------------ reference signer
def ref_sign(method, host, body, ak, sk, token, region, amz_date):
    """Straight from the AWS documentation; independent of ec2sim's helper."""
    ctype = "application/x-www-form-urlencoded; charset=utf-8"
    hdrs = {"content-type": ctype, "host": host, "x-amz-date": amz_date}
    if token:
        hdrs["x-amz-security-token"] = token
    signed = sorted(hdrs)
    creq = "\n".join([method, "/", "", "".join(f"{k}:{hdrs[k]}\n" for k in signed),
                      ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/ec2/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n" + hashlib.sha256(creq.encode()).hexdigest()

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    key = h(h(h(h(("AWS4" + sk).encode(), amz_date[:8]), region), "ec2"), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    out = {"Content-Type": ctype, "X-Amz-Date": amz_date,
           "Authorization": f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                            f"SignedHeaders={';'.join(signed)}, Signature={sig}"}
    if token:
        out["X-Amz-Security-Token"] = token
    return out


class Client:
    def __init__(self, sim):
        self.sim = sim
        self.creds = None
        self.tamper = None

    def imds(self, path, token=True, method="GET", headers=None):
        h = dict(headers or {})
        if token:
            req = urllib.request.Request(self.sim.imds_url + "/latest/api/token", method="PUT",
                                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
            h["X-aws-ec2-metadata-token"] = urllib.request.urlopen(req).read().decode()
        req = urllib.request.Request(self.sim.imds_url + path, method=method, headers=h)
        return urllib.request.urlopen(req).read().decode()

    def refresh(self):
        role = self.imds("/latest/meta-data/iam/security-credentials/")
        self.creds = json.loads(self.imds("/latest/meta-data/iam/security-credentials/" + role))

    def call(self, action, **params):
        if self.creds is None:
            self.refresh()
        form = {"Action": action, "Version": "2016-11-15", **params}
        body = urllib.parse.urlencode(form, quote_via=urllib.parse.quote).encode()
        host = urllib.parse.urlsplit(self.sim.ec2_url).netloc
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        hdrs = ref_sign("POST", host, body, self.creds["AccessKeyId"], self.creds["SecretAccessKey"],
                        self.creds["Token"], "us-east-1", amz)
        if self.tamper:
            body = self.tamper(body)
        req = urllib.request.Request(self.sim.ec2_url + "/", data=body, method="POST", headers=hdrs)
        try:
            r = urllib.request.urlopen(req)
            return r.status, ET.fromstring(r.read())
        except urllib.error.HTTPError as e:
            return e.code, ET.fromstring(e.read())


@pytest.fixture
def sim():
    attached, detached, deleted = [], [], []
    s = ec2sim.EC2Sim(create_latency_s=0.05, attach_latency_s=0.1, detach_latency_s=0.05,
                      delete_latency_s=0.02,
                      on_attach=lambda *a: attached.append(a), on_detach=lambda v: detached.append(v),
                      on_delete=lambda v: deleted.append(v))
    s.attached, s.detached, s.deleted_cb = attached, detached, deleted
    s.start()
    yield s
    s.stop()


def text(root, path):
    el = root.find(path, NS)
    return None if el is None else el.text


def err_code(root):
    return root.find("Errors/Error/Code").text


def wait_for(pred, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


# ------------------------------------------------------------ tests
def test_simulator_signer_matches_official_suite():
    """ec2sim's verifier reproduces the AWS suite (the cases a form POST uses)."""
    for case in ("post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters", "post-vanilla"):
        d = os.path.join(SUITE, case)
        raw = open(os.path.join(d, case + ".req"), "rb").read().decode()
        head, _, body = raw.partition("\n\n")
        lines = head.split("\n")
        headers = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            headers[k.lower()] = v
        signed = sorted(headers)
        sig, creq, sts = ec2sim.sigv4_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "POST", "/", "",
                                                headers, signed, body.encode(), "20150830T123600Z",
                                                "us-east-1", "service")
        assert creq == open(os.path.join(d, case + ".creq")).read()
        assert sts == open(os.path.join(d, case + ".sts")).read()
        assert sig in open(os.path.join(d, case + ".authz")).read()


def test_imds_v2(sim):
    c = Client(sim)
    assert c.imds("/latest/meta-data/instance-id") == sim.instance_id
    assert c.imds("/latest/meta-data/placement/region") == "us-east-1"
    assert c.imds("/latest/meta-data/placement/availability-zone") == "us-east-1a"
    doc = json.loads(c.imds("/latest/dynamic/instance-identity/document"))
    assert doc["instanceId"] == sim.instance_id
    with pytest.raises(urllib.error.HTTPError) as e:
        c.imds("/latest/meta-data/instance-id", token=False)
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as e:
        c.imds("/latest/meta-data/instance-id", token=False, headers={"X-aws-ec2-metadata-token": "forged"})
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as e:  # TTL header required
        urllib.request.urlopen(urllib.request.Request(sim.imds_url + "/latest/api/token", method="PUT"))
    assert e.value.code == 400
    c.refresh()
    assert c.creds["Code"] == "Success" and c.creds["Token"]
    sim.imds_down = True
    with pytest.raises(urllib.error.HTTPError):
        c.imds("/latest/meta-data/instance-id")


def test_signature_checked(sim):
    c = Client(sim)
    st, r = c.call("DescribeVolumes")
    assert st == 200 and sim.violations == []
    c.tamper = lambda b: b + b"&VolumeId.1=vol-0123456789abcdef0"
    st, r = c.call("DescribeVolumes")
    assert st == 403 and err_code(r) == "SignatureDoesNotMatch"
    assert any("signature mismatch" in v for v in sim.violations)
    sim.violations.clear()
    c.tamper = None
    good = c.creds
    c.creds = dict(good, SecretAccessKey="wrong")
    st, r = c.call("DescribeVolumes")
    assert st == 403
    c.creds = dict(good, Token="other")
    st, r = c.call("DescribeVolumes")
    assert st == 403
    c.creds = dict(good, AccessKeyId="ASIAUNKNOWN")
    st, r = c.call("DescribeVolumes")
    assert st == 401 and err_code(r) == "AuthFailure"


def test_expired_credentials_rotate(sim):
    c = Client(sim)
    c.refresh()
    old = c.creds["AccessKeyId"]
    sim.expire_credentials()
    st, r = c.call("DescribeVolumes")
    assert st == 400 and err_code(r) == "ExpiredToken"
    c.refresh()
    assert c.creds["AccessKeyId"] != old
    assert c.call("DescribeVolumes")[0] == 200


def test_model_check(sim):
    c = Client(sim)
    st, r = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="1", TagSpecifications_1="x")
    assert st == 400 and err_code(r) == "UnknownParameter"
    st, r = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="big")
    assert st == 400
    st, r = c.call("NoSuchAction")
    assert st == 400 and err_code(r) == "InvalidAction"
    assert len(sim.violations) == 3
    m = sim.model
    assert m.param_type("CreateVolume", "TagSpecification.1.Tag.2.Key") == "string"
    assert m.param_type("ModifyInstanceAttribute", "BlockDeviceMapping.1.Ebs.DeleteOnTermination") == "boolean"
    assert m.param_type("DescribeVolumes", "Filter.1.Value.3") == "string"
    assert m.param_type("DescribeVolumes", "VolumeId.0") is None


def test_volume_lifecycle(sim):
    c = Client(sim)
    st, r = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="10", VolumeType="gp3",
                   Iops="3000", Throughput="125", Encrypted="true", KmsKeyId="alias/k", ClientToken="tok-1",
                   **{"TagSpecification.1.ResourceType": "volume",
                      "TagSpecification.1.Tag.1.Key": "dmscale:pool",
                      "TagSpecification.1.Tag.1.Value": "docker"})
    assert st == 200, ET.tostring(r)
    assert r.tag == f"{{{ec2sim.NS}}}CreateVolumeResponse"
    vid = text(r, "e:volumeId")
    assert text(r, "e:status") == "creating"
    # same ClientToken: same volume; different parameters: mismatch
    st, r2 = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="10", VolumeType="gp3", ClientToken="tok-1")
    assert text(r2, "e:volumeId") == vid
    st, r3 = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="11", VolumeType="gp3", ClientToken="tok-1")
    assert err_code(r3) == "IdempotentParameterMismatch"
    # attach before available: IncorrectState (hold the volume in "creating": on
    # a loaded machine two signed calls take longer than create_latency_s)
    with sim.lock:
        sim.volumes[vid].state = "creating"
    st, r = c.call("AttachVolume", VolumeId=vid, InstanceId=sim.instance_id, Device="/dev/xvdba")
    assert err_code(r) == "IncorrectState"
    sim._later(0.05, sim._set_state, vid, "creating", "available")
    assert wait_for(lambda: sim.volumes[vid].state == "available")
    st, r = c.call("AttachVolume", VolumeId=vid, InstanceId=sim.instance_id, Device="/dev/xvdba")
    assert st == 200 and text(r, "e:status") == "attaching"
    st, r = c.call("DescribeVolumes", **{"VolumeId.1": vid})
    item = r.find("e:volumeSet/e:item", NS)
    assert text(item, "e:status") == "in-use"
    assert text(item, "e:attachmentSet/e:item/e:status") == "attaching"
    assert text(item, "e:tagSet/e:item/e:value") == "docker"
    assert wait_for(lambda: sim.attached)
    assert sim.attached[0] == (vid, 10 << 30, "/dev/xvdba")
    assert wait_for(lambda: sim.volumes[vid].attachment["state"] == "attached")
    # device in use
    st, r = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="1")
    vid2 = text(r, "e:volumeId")
    assert wait_for(lambda: sim.volumes[vid2].state == "available")
    st, r = c.call("AttachVolume", VolumeId=vid2, InstanceId=sim.instance_id, Device="/dev/xvdba")
    assert err_code(r) == "InvalidParameterValue" and "in use" in text(r, "Errors/Error/Message")
    # DeleteOnTermination through ModifyInstanceAttribute, visible in DescribeInstances
    st, r = c.call("ModifyInstanceAttribute", InstanceId=sim.instance_id,
                   **{"BlockDeviceMapping.1.DeviceName": "/dev/xvdba",
                      "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true"})
    assert st == 200 and text(r, "e:return") == "true"
    st, r = c.call("DescribeInstances", **{"InstanceId.1": sim.instance_id})
    items = r.findall(".//e:blockDeviceMapping/e:item", NS)
    m = {text(i, "e:deviceName"): (text(i, "e:ebs/e:volumeId"), text(i, "e:ebs/e:deleteOnTermination")) for i in items}
    assert m["/dev/xvdba"] == (vid, "true")
    st, r = c.call("DescribeInstanceAttribute", InstanceId=sim.instance_id, Attribute="blockDeviceMapping")
    assert st == 200 and len(r.findall("e:blockDeviceMapping/e:item", NS)) == 2
    # delete while attached refused; detach then delete
    st, r = c.call("DeleteVolume", VolumeId=vid)
    assert err_code(r) == "VolumeInUse"
    st, r = c.call("DetachVolume", VolumeId=vid, InstanceId=sim.instance_id)
    assert st == 200 and text(r, "e:status") == "detaching"
    assert wait_for(lambda: sim.volumes[vid].state == "available")
    assert sim.detached == [vid]
    assert c.call("DeleteVolume", VolumeId=vid)[0] == 200
    assert wait_for(lambda: vid not in sim.volumes)
    assert wait_for(lambda: sim.deleted_cb == [vid])      # the bed frees the backing file here
    st, r = c.call("DescribeVolumes", **{"VolumeId.1": vid})
    assert err_code(r) == "InvalidVolume.NotFound"
    # termination deletes DeleteOnTermination volumes only: vid2 (available) leaks
    assert set(sim.terminate_instance()) == {vid2}
    assert sim.violations == []
    acts = sim.actions()
    assert acts.count("CreateVolume") == 4 and "ModifyInstanceAttribute" in acts
    assert ("AttachVolume", {"VolumeId": vid, "InstanceId": sim.instance_id, "Device": "/dev/xvdba"}) in sim.calls


def test_faults_and_pagination(sim):
    c = Client(sim)
    sim.throttle_next(2)
    st, r = c.call("DescribeVolumes")
    assert st == 503 and err_code(r) == "RequestLimitExceeded"
    assert c.call("DescribeVolumes")[0] == 503
    assert c.call("DescribeVolumes")[0] == 200
    sim.fail_next("CreateVolume", "InsufficientVolumeCapacity")
    st, r = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="1")
    assert st == 400 and err_code(r) == "InsufficientVolumeCapacity"
    sim.fail_next("CreateVolume", "UnauthorizedOperation")
    assert c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="1")[0] == 403
    sim.set_delay("DescribeVolumes", 0.2)
    t0 = time.time()
    c.call("DescribeVolumes")
    assert time.time() - t0 >= 0.2
    sim.delays.clear()
    for i in range(7):
        c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="1",
               **{"TagSpecification.1.ResourceType": "volume", "TagSpecification.1.Tag.1.Key": "dmscale:pool",
                  "TagSpecification.1.Tag.1.Value": "p" if i < 6 else "q"})
    seen, tok = [], None
    while True:
        kw = {"Filter.1.Name": "tag:dmscale:pool", "Filter.1.Value.1": "p", "MaxResults": "5"}
        if tok:
            kw["NextToken"] = tok
        st, r = c.call("DescribeVolumes", **kw)
        assert st == 200
        seen += [text(i, "e:volumeId") for i in r.findall("e:volumeSet/e:item", NS)]
        tok = text(r, "e:nextToken")
        if not tok:
            break
    assert len(seen) == 6 == len(set(seen))


def test_stuck_attaching_and_token_bucket():
    # The buckets run on a frozen clock: no refill however slowly the calls go
    # (a loaded machine must not turn this into a timing test).
    frozen = [time.time()]
    s = ec2sim.EC2Sim(create_latency_s=0.01, attach_latency_s=0.01, clock=lambda: frozen[0]).start()
    try:
        c = Client(s)
        s.stuck_attaching = True
        st, r = c.call("CreateVolume", AvailabilityZone="us-east-1a", Size="1")
        vid = text(r, "e:volumeId")
        assert wait_for(lambda: s.volumes[vid].state == "available")
        c.call("AttachVolume", VolumeId=vid, InstanceId=s.instance_id, Device="/dev/xvdbb")
        time.sleep(0.1)
        assert s.volumes[vid].attachment["state"] == "attaching"
        # mutating bucket: 50 then throttled
        codes = [c.call("DeleteVolume", VolumeId="vol-0000000000000000f")[1] for _ in range(52)]
        assert [err_code(x) for x in codes].count("RequestLimitExceeded") >= 1
    finally:
        s.stop()


def test_concurrent_requests(sim):
    c = Client(sim)
    c.refresh()
    errs = []

    def worker():
        try:
            for _ in range(5):
                assert c.call("DescribeVolumes")[0] == 200
        except AssertionError as e:
            errs.append(e)

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs and sim.violations == []
