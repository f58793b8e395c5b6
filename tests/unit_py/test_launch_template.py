"""ec2/launch-template/ and the shipped docs, checked against the code.

* user-data.mime: MIME multipart (what AWS Batch requires) with one
  text/cloud-config part that installs the package and runs
  `dmscale init /dev/xvdba`; its dmscale.json uses only keys the daemon knows.
* cloudformation.yaml: the launch template named in the issue (100 GiB gp3
  encrypted /dev/xvdba, DeleteOnTermination, IMDSv2 required, hop limit 2),
  user data identical to user-data.mime, and an IAM policy whose actions are
  exactly the EC2 calls the code makes (ec2/query.c forms used by ec2/*.c,
  CreateTags for CreateVolume's TagSpecification), each an operation of the
  EC2 API model ../shared/aws/ec2-2016-11-15/service-2.json, every mutating
  one conditioned on dmscale's tags or the instance profile.
* debian/examples/dmscale.json and man/dmscale.json.5.scd cover exactly the
  keys of ec2/config.c (with its defaults), man/dmscale.8.scd every option.

Run: /usr/bin/python3 -m pytest tests/unit_py   (from the project root)
"""
import email
import json
import os
import re

import pytest

yaml = pytest.importorskip("yaml")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LT = os.path.join(ROOT, "ec2", "launch-template")
MODEL = os.path.join(ROOT, "..", "shared", "aws", "ec2-2016-11-15", "service-2.json")


def read(*p):
    with open(os.path.join(ROOT, *p)) as f:
        return f.read()


# ------------------------------------------------------------ CloudFormation YAML
class CfnLoader(yaml.SafeLoader):
    """Short-form intrinsics (!Ref, !Sub, !GetAtt ...) -> their long form."""


def _cfn_tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
        if suffix == "GetAtt":
            v = v.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    return {name: v}


CfnLoader.add_multi_constructor("!", _cfn_tag)


@pytest.fixture(scope="module")
def cfn():
    return yaml.load(read("ec2", "launch-template", "cloudformation.yaml"), Loader=CfnLoader)


@pytest.fixture(scope="module")
def mime_text():
    return read("ec2", "launch-template", "user-data.mime")


def sub(text, **params):
    """CloudFormation Fn::Sub on a string with the given parameter values."""
    def repl(m):
        if m.group(1) not in params:
            raise KeyError(f"Fn::Sub variable ${{{m.group(1)}}} not supplied")
        return params[m.group(1)]
    return re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", repl, text)


# ------------------------------------------------------------ what the code does
def config_keys():
    """{key: C type} of the daemon configuration table in ec2/config.c."""
    src = read("ec2", "config.c")
    return dict(re.findall(r'\{"([a-z0-9_]+)", (K_[A-Z0-9]+), O\(', src))


def config_defaults():
    src = read("ec2", "config.c")
    hdr = read("ec2", "config.h")
    body = src[src.index("void dms_config_defaults"):]
    body = body[:body.index("\n}\n")]
    consts = dict(re.findall(r'#define (DMS_[A-Z0-9_]+) "([^"]*)"', hdr))
    out = {}
    for k, v in re.findall(r"c->([a-z0-9_]+) = ([^;]+);", body):
        out[k] = eval(v, {"GIB": 1 << 30, "MIB": 1 << 20, "true": True, "false": False})  # noqa: S307 - literals from our own source
    for k, fmt, arg in re.findall(r'snprintf\(c->([a-z0-9_]+), sizeof\(c->\1\), "([^"]*)"(?:, ([A-Z0-9_]+))?\)', body):
        out[k] = consts[arg] if arg else fmt
    return out


def ec2_actions_called():
    """Actions of the ec2/query.c builders that ec2/*.c (other than query.c) calls."""
    q = read("ec2", "query.c")
    fn_action = {}
    for m in re.finditer(r"^int (ec2_query_[a-z_]+)\(.*?\n\}", q, re.S | re.M):
        a = re.search(r'ec2_form_init\(f, "([A-Za-z]+)"\)', m.group(0))
        if a:
            fn_action[m.group(1)] = a.group(1)
    used = set()
    for n in sorted(os.listdir(os.path.join(ROOT, "ec2"))):
        if n.endswith(".c") and n != "query.c":
            for fn in re.findall(r"\b(ec2_query_[a-z_]+)\(", read("ec2", n)):
                if fn in fn_action:
                    used.add(fn_action[fn])
    assert "CreateVolume" in used and "TagSpecification" in q
    return used | {"CreateTags"}   # TagSpecification on CreateVolume is authorised as CreateTags


def test_code_calls_the_expected_actions():
    assert ec2_actions_called() == {
        "CreateVolume", "CreateTags", "DescribeVolumes", "AttachVolume", "DetachVolume",
        "DeleteVolume", "ModifyInstanceAttribute", "DescribeInstances"}


# ------------------------------------------------------------ user data
def test_user_data_is_mime_multipart_with_cloud_config(mime_text):
    msg = email.message_from_string(mime_text)
    assert msg.get_content_type() == "multipart/mixed" and msg["MIME-Version"] == "1.0"
    assert msg.is_multipart() and not msg.defects
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/cloud-config"]
    body = parts[0].get_payload()
    assert body.startswith("#cloud-config\n")
    assert mime_text.rstrip().endswith("--" + msg.get_boundary() + "--")
    cc = yaml.safe_load(sub(body, PackageUrl="s3://bucket/dmscale.deb", PoolName="scratch"))

    cmds = cc["bootcmd"]
    install = cmds[0]
    assert install[:3] == ["cloud-init-per", "instance", "dmscale-install"]
    assert install[-1] == "s3://bucket/dmscale.deb"
    assert "apt-get install" in install[-2] and "aws s3 cp" in install[-2]
    assert ["dmscale", "init", "--name", "scratch", "/dev/xvdba"] in cmds
    # after the package, and the daemon never started synchronously from bootcmd
    # (it is After=network-online.target, which waits for cloud-init.service)
    assert cmds.index(["dmscale", "init", "--name", "scratch", "/dev/xvdba"]) > 0
    assert ["systemctl", "start", "--no-block", "dmscale-daemon.service"] in cmds
    assert not any(c[:2] == ["systemctl", "start"] and "--no-block" not in c for c in cmds if isinstance(c, list))

    (wf,) = [f for f in cc["write_files"] if f["path"] == "/etc/dmscale/dmscale.json"]
    conf = json.loads(wf["content"])
    keys = config_keys()
    assert set(conf) <= set(keys), set(conf) - set(keys)
    assert conf["pool"] == "scratch" and conf["mountpoint"] == "/var/lib/docker"
    assert conf["encrypted"] is True          # the IAM policy requires it


# ------------------------------------------------------------ CloudFormation
def test_launch_template_properties(cfn, mime_text):
    lt = cfn["Resources"]["LaunchTemplate"]
    assert lt["Type"] == "AWS::EC2::LaunchTemplate"
    data = lt["Properties"]["LaunchTemplateData"]
    (bdm,) = data["BlockDeviceMappings"]
    assert bdm["DeviceName"] == "/dev/xvdba"
    assert bdm["Ebs"] == {"VolumeSize": 100, "VolumeType": "gp3", "Encrypted": True,
                          "DeleteOnTermination": True}
    md = data["MetadataOptions"]
    assert md["HttpTokens"] == "required" and md["HttpEndpoint"] == "enabled"
    assert md["HttpPutResponseHopLimit"] == 2     # host + one container network hop
    ud = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert ud == mime_text, "cloudformation.yaml's UserData differs from user-data.mime"
    params = set(cfn["Parameters"])
    assert set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ud)) <= params
    assert "IamInstanceProfile" not in data   # AWS Batch sets the instance role itself
    assert cfn["Outputs"]["InstanceProfileArn"]["Value"] == {"Fn::GetAtt": ["InstanceProfile", "Arn"]}


def statements(cfn, res="DmscalePolicy"):
    doc = cfn["Resources"][res]["Properties"]["PolicyDocument"]
    out = []
    for s in doc["Statement"]:
        acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        out.append((s, acts))
    return out


def test_iam_actions_are_exactly_what_the_code_calls(cfn):
    with open(MODEL) as f:
        ops = set(json.load(f)["operations"])
    granted = set()
    for s, acts in statements(cfn):
        assert s["Effect"] == "Allow"
        for a in acts:
            svc, op = a.split(":")
            assert svc == "ec2" and "*" not in op
            assert op in ops, f"{a} is not an operation of the EC2 API model"
            granted.add(op)
    assert granted == ec2_actions_called()
    pol = cfn["Resources"]["DmscalePolicy"]["Properties"]
    assert pol["Roles"] == [{"Ref": "InstanceRole"}]


def test_iam_mutating_actions_are_conditioned(cfn):
    pool = {"Ref": "PoolName"}
    seen = {}
    for s, acts in statements(cfn):
        res = s["Resource"]
        for a in acts:
            seen.setdefault(a, []).append(s)
        if all(a.startswith("ec2:Describe") for a in acts):
            assert res == "*"        # Describe* support no resource-level permissions
            assert "Condition" not in s
            continue
        cond = s["Condition"]
        arn = res["Fn::Sub"]
        assert arn.startswith("arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:")
        if arn.endswith(":volume/*"):
            tagged = cond.get("StringEquals", {})
            assert tagged.get("aws:RequestTag/dmscale:pool") == pool or \
                tagged.get("aws:ResourceTag/dmscale:pool") == pool, s
        else:
            assert arn.endswith(":instance/*")
            assert cond == {"ArnEquals": {"ec2:InstanceProfile": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}}}
    (create,) = seen["ec2:CreateVolume"]
    assert create["Condition"]["Null"] == {"aws:RequestTag/dmscale:instance": "false"}
    assert create["Condition"]["Bool"] == {"ec2:Encrypted": "true"}
    (tags,) = seen["ec2:CreateTags"]
    assert tags["Condition"]["StringEquals"]["ec2:CreateAction"] == "CreateVolume"
    for a in ("ec2:AttachVolume", "ec2:DetachVolume"):
        kinds = sorted(s["Resource"]["Fn::Sub"].rsplit(":", 1)[1] for s in seen[a])
        assert kinds == ["instance/*", "volume/*"], a
    for a in ("ec2:DeleteVolume",):
        (s,) = seen[a]
        assert s["Condition"] == {"StringEquals": {"aws:ResourceTag/dmscale:pool": pool}}
    # the tags the daemon really puts on its volumes
    ec2h = read("ec2", "ec2.h")
    assert '#define EC2_TAG_POOL "dmscale:pool"' in ec2h
    assert '#define EC2_TAG_INSTANCE "dmscale:instance"' in ec2h


def test_package_policy_only_reads_the_package(cfn):
    (s, acts), = statements(cfn, "PackagePolicy")
    assert acts == ["s3:GetObject"]
    assert s["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${PackageBucket}/${PackageKey}"}
    assert cfn["Resources"]["PackagePolicy"]["Condition"] == "PackageInS3"


# ------------------------------------------------------------ docs cover the code
def test_example_config_has_every_key_at_its_default():
    ex = json.loads(read("debian", "examples", "dmscale.json"))
    keys = config_keys()
    assert set(ex) == set(keys), (set(keys) ^ set(ex))
    for k, v in config_defaults().items():
        assert ex[k] == v, f"example {k}={ex[k]!r}, default {v!r}"
    for k, t in keys.items():
        if k not in config_defaults():
            assert ex[k] in ({"K_STR": "", "K_BOOL": False, "K_TAGS": {}}.get(t, 0),), k


def test_man_pages_cover_every_key_and_option():
    man5 = read("man", "dmscale.json.5.scd")
    for k in config_keys():
        assert re.search(rf"^\*{k}\* \(", man5, re.M), f"dmscale.json(5) does not document {k}"
    man8 = read("man", "dmscale.8.scd")
    srcs = read("dmscale", "main.c") + read("ec2", "daemon.c")
    opts = set(re.findall(r'\{\s*"([a-z][a-z-]+)",\s*(?:no|required)_argument', srcs))
    assert {"name", "udev", "json", "config", "once"} <= opts
    for o in opts - {"help"}:
        assert f"*--{o}*" in man8, f"dmscale(8) does not document --{o}"
    for cmd in re.findall(r'!strcmp\(cmd, "([a-z]+)"\)', srcs):
        assert f"## {cmd}\n" in man8, f"dmscale(8) has no section for {cmd}"
    for section in ("# EXIT STATUS", "# FILES", "# ON-DISK FORMAT", "# ENVIRONMENT"):
        assert section in man8
