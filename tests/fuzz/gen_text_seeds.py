#!/usr/bin/env python3
"""Writes the text seed corpora of the fuzz harnesses (make fuzz-seeds).

The EC2 and IMDS responses are captured from tests/vm/ec2sim.py, the EC2/IMDS
simulator that the VM tests and the AWS SDK check against the EC2 API model
(../shared/aws/ec2-2016-11-15): real response bodies, byte for byte. The
rest (config, thin-pool status lines, size strings, pending lists) are the
shapes dmscale reads in production, as documented in ec2/config.h,
dmscale/thin.h and dmscale/pending.h.

Usage: gen_text_seeds.py CORPUS_DIR   (from the project root)
"""
import datetime
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "vm"))
sys.path.insert(0, os.path.join(HERE, "..", "unit_py"))
import ec2sim  # noqa: E402
from test_ec2sim import ref_sign  # noqa: E402  (the independent reference signer)

XML_SEL = {  # selector byte of fuzz_xml.c: parser in bits 0-2, HTTP status index in bits 5-7
    "create": 0, "describe": 1, "describe1": 2, "attach": 3, "bdm": 4, "return": 5,
}
STATUS_IDX = {400: 0, 403: 1, 429: 2, 500: 3, 503: 4, 200: 5, 0: 6, 404: 7}


def write(root, harness, name, data):
    d = os.path.join(root, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


class Capture:
    def __init__(self, sim):
        self.sim = sim
        self.creds = None

    def imds(self, path, token=True, method="GET"):
        h = {}
        if token:
            req = urllib.request.Request(self.sim.imds_url + "/latest/api/token", method="PUT",
                                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
            h["X-aws-ec2-metadata-token"] = urllib.request.urlopen(req).read().decode()
        req = urllib.request.Request(self.sim.imds_url + path, method=method, headers=h)
        return urllib.request.urlopen(req).read()

    def token(self):
        req = urllib.request.Request(self.sim.imds_url + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        return urllib.request.urlopen(req).read()

    def call(self, action, **params):
        import json
        if self.creds is None:
            role = self.imds("/latest/meta-data/iam/security-credentials/").decode()
            self.creds = json.loads(self.imds("/latest/meta-data/iam/security-credentials/" + role))
        form = {"Action": action, "Version": "2016-11-15", **params}
        body = urllib.parse.urlencode(form, quote_via=urllib.parse.quote).encode()
        host = urllib.parse.urlsplit(self.sim.ec2_url).netloc
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        hdrs = ref_sign("POST", host, body, self.creds["AccessKeyId"], self.creds["SecretAccessKey"],
                        self.creds["Token"], "us-east-1", amz)
        req = urllib.request.Request(self.sim.ec2_url + "/", data=body, method="POST", headers=hdrs)
        try:
            r = urllib.request.urlopen(req)
            return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def xml_seed(root, name, parser, body, status=200):
    sel = XML_SEL.get(parser, 6) | (STATUS_IDX[status] << 5)
    write(root, "xml", name, bytes([sel]) + body)


def capture_ec2(root):
    sim = ec2sim.EC2Sim(create_latency_s=0.05, attach_latency_s=0.1, detach_latency_s=0.05,
                        delete_latency_s=0.02, smithy_verify=False)
    sim.start()
    try:
        c = Capture(sim)
        # IMDS: token, metadata values, role listing, role credentials
        write(root, "imds", "token", c.token())
        for p in ("instance-id", "placement/region", "placement/availability-zone"):
            write(root, "imds", p.replace("/", "-"), c.imds("/latest/meta-data/" + p))
        role = c.imds("/latest/meta-data/iam/security-credentials/")
        write(root, "imds", "role-name", role)
        write(root, "imds", "credentials",
              c.imds("/latest/meta-data/iam/security-credentials/" + role.decode()))

        tags = {"TagSpecification.1.ResourceType": "volume",
                "TagSpecification.1.Tag.1.Key": "dmscale:pool", "TagSpecification.1.Tag.1.Value": "scratch",
                "TagSpecification.1.Tag.2.Key": "dmscale:instance",
                "TagSpecification.1.Tag.2.Value": sim.instance_id}
        st, b = c.call("CreateVolume", AvailabilityZone=sim.az, Size="150", VolumeType="gp3",
                       Encrypted="true", ClientToken="fuzz-seed-1", **tags)
        assert st == 200, b
        xml_seed(root, "create-volume", "create", b)
        vid = b.split(b"<volumeId>")[1].split(b"</volumeId>")[0].decode()
        st, b = c.call("CreateVolume", AvailabilityZone=sim.az, Size="50", ClientToken="fuzz-seed-2")
        xml_seed(root, "create-volume-plain", "create", b)
        vid2 = b.split(b"<volumeId>")[1].split(b"</volumeId>")[0].decode()
        time.sleep(0.3)
        st, b = c.call("DescribeVolumes", **{"VolumeId.1": vid})
        xml_seed(root, "describe-volumes-available", "describe", b)
        st, b = c.call("AttachVolume", VolumeId=vid, InstanceId=sim.instance_id, Device="/dev/xvdba")
        assert st == 200, b
        xml_seed(root, "attach-volume", "attach", b)
        st, b = c.call("DescribeVolumes", **{"VolumeId.1": vid})
        xml_seed(root, "describe-volumes-attaching", "describe", b)
        time.sleep(0.4)
        st, b = c.call("DescribeVolumes", **{"Filter.1.Name": "tag:dmscale:pool", "Filter.1.Value.1": "scratch",
                                             "MaxResults": "5"})
        xml_seed(root, "describe-volumes-by-tag", "describe", b)
        st, b = c.call("DescribeVolumes", **{"VolumeId.1": vid, "VolumeId.2": vid2})
        xml_seed(root, "describe-volumes-two", "describe", b)
        xml_seed(root, "describe-volumes-two-room-for-one", "describe1", b)
        st, b = c.call("ModifyInstanceAttribute", InstanceId=sim.instance_id,
                       **{"BlockDeviceMapping.1.DeviceName": "/dev/xvdba",
                          "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true"})
        xml_seed(root, "modify-instance-attribute", "return", b)
        st, b = c.call("DescribeInstances", **{"InstanceId.1": sim.instance_id})
        xml_seed(root, "describe-instances", "bdm", b)
        st, b = c.call("DescribeInstanceAttribute", InstanceId=sim.instance_id, Attribute="blockDeviceMapping")
        xml_seed(root, "describe-instance-attribute", "bdm", b)
        st, b = c.call("DetachVolume", VolumeId=vid, InstanceId=sim.instance_id)
        xml_seed(root, "detach-volume", "attach", b)
        st, b = c.call("DeleteVolume", VolumeId=vid2)
        xml_seed(root, "delete-volume", "return", b)
        # errors
        st, b = c.call("DeleteVolume", VolumeId="vol-0000000000000dead")
        xml_seed(root, "error-not-found", "error", b, st)
        st, b = c.call("CreateVolume", AvailabilityZone="mars-1a", Size="50", ClientToken="fuzz-seed-3")
        xml_seed(root, "error-invalid-parameter", "error", b, st)
        sim.throttle_next(1)
        st, b = c.call("DescribeVolumes", **{"VolumeId.1": vid})
        xml_seed(root, "error-throttled", "error", b, st)
        sim.fail_next("AttachVolume", "AttachmentLimitExceeded")
        st, b = c.call("AttachVolume", VolumeId=vid, InstanceId=sim.instance_id, Device="/dev/xvdbb")
        xml_seed(root, "error-attachment-limit", "error", b, st)
        sim.fail_next("CreateVolume", "InternalError", status=500)
        st, b = c.call("CreateVolume", AvailabilityZone=sim.az, Size="50", ClientToken="fuzz-seed-4")
        xml_seed(root, "error-internal", "error", b, st)
    finally:
        sim.stop()


def static_seeds(root):
    # EC2 never sends a DTD: bodies that carry one (entity expansion, external
    # entities, as in tests/unit/test_xml.c) must be refused, so the fuzzer
    # starts from them too; and a body in another declared encoding
    lol = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
           '<CreateVolumeResponse><volumeId>&c;</volumeId><status>x</status></CreateVolumeResponse>')
    xml_seed(root, "hostile-entity-expansion", "create", lol.encode())
    xxe = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<Response><Errors><Error><Code>&x;</Code></Error></Errors></Response>')
    xml_seed(root, "hostile-external-entity", "error", xxe.encode(), 400)
    xml_seed(root, "hostile-external-dtd", "return",
             b'<!DOCTYPE DeleteVolumeResponse SYSTEM "http://example.com/x.dtd">'
             b'<DeleteVolumeResponse><return>true</return></DeleteVolumeResponse>')
    xml_seed(root, "latin1-error", "error",
             b'<?xml version="1.0" encoding="ISO-8859-1"?><Response><Errors><Error><Code>X</Code>'
             b'<Message>caf\xe9</Message></Error></Errors></Response>', 503)
    # IMDS: shapes the parsers also see
    write(root, "imds", "expiration-fraction", "2025-11-25T19:00:00.123Z")
    write(root, "imds", "expiration-offset", "2025-11-25T19:00:00+00:00")
    write(root, "imds", "role-names-two", "first-role\nsecond-role\n")
    # the daemon config (ec2/config.h), a full one and a minimal one, the
    # second with the AWS environment after a NUL byte
    write(root, "config", "full", """{
  "pool": "scratch", "mountpoint": "/var/lib/docker", "poll_interval_ms": 1000,
  "min_free_bytes": 10737418240, "min_free_percent": 10, "initial_volume_gib": 150,
  "min_volume_gib": 50, "max_volume_gib": 1500, "max_volumes": 24, "max_total_gib": 16384,
  "max_attachments": 26, "fill_horizon_s": 1800, "growth_percent": 25, "safety_factor": 3,
  "volume_type": "gp3", "iops": 3000, "throughput_mibps": 125, "encrypted": true,
  "kms_key_id": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  "tags": {"team": "ci", "cost-center": "42"}, "attach_timeout_s": 300, "api_timeout_ms": 15000,
  "imds_endpoint": "http://169.254.169.254", "ec2_endpoint": "", "region": "us-east-1",
  "metrics_textfile": "/var/lib/prometheus/node-exporter/dmscale.prom"
}
""")
    write(root, "config", "minimal-with-env",
          b'{"pool": "docker", "volume_type": "io2", "iops": 16000}\n\0'
          b"AWS_REGION=eu-west-1\nAWS_ENDPOINT_URL_EC2=https://ec2.eu-west-1.amazonaws.com\n"
          b"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
          b"AWS_SESSION_TOKEN=FQoGZXIvYXdzEXAMPLE\n")
    write(root, "config", "empty-object", "{}")
    # thin-pool status lines (kernel thin-provisioning.rst, as in tests/unit/test_thin.c) and sizes
    for name, line in (
        ("status-rw", "1 150/2048 4076/6122 - rw discard_passdown queue_if_no_space - 1024"),
        ("status-full", "0 10/2048 2030/2030 17 out_of_data_space no_discard_passdown error_if_no_space needs_check"),
        ("status-ro", "1 1/2 1/2 - ro ignore_discard queue_if_no_space -"),
        ("status-fail", "Fail"),
        ("size-gib", "512G"), ("size-tib", "16TiB"), ("size-fraction", "1.5T"), ("size-bytes", "1048576"),
        ("size-kb", "0.25kB"),
    ):
        write(root, "thin", name, line)
    # pending lists (dmscale/pending.c writes "vol-...\n" per id)
    write(root, "pending", "two", "vol-0123456789abcdef0\nvol-0fedcba9876543210\n")
    write(root, "pending", "old-id-crlf", "vol-01234567\r\n")
    write(root, "pending", "empty", "")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_text_seeds.py CORPUS_DIR")
    root = sys.argv[1]
    capture_ec2(root)
    static_seeds(root)


if __name__ == "__main__":
    main()
