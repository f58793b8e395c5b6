"""EC2 + IMDSv2 simulator for dmscale tests (Python 3 stdlib only).

Two HTTP servers on 127.0.0.1 (ports chosen by the OS unless given):
  * IMDSv2: PUT /latest/api/token (TTL header required, 1..21600 s), GETs need a
    valid token (401 otherwise): instance-id, placement/region,
    placement/availability-zone, iam/security-credentials/[ROLE],
    /latest/dynamic/instance-identity/document. Role credentials expire after
    cred_ttl_s and rotate; expired keys are refused by the EC2 endpoint.
  * EC2 Query API (POST /, form body, Version 2016-11-15): CreateVolume,
    DescribeVolumes, AttachVolume, DetachVolume, DeleteVolume,
    ModifyInstanceAttribute, DescribeInstances, DescribeInstanceAttribute,
    DescribeTags. With imds_v1=True, tokenless IMDS GETs are answered too.
    Every request's SigV4 signature is recomputed (hmac/hashlib) with the
    credentials handed out through IMDS (or added with add_static_credentials);
    every parameter name is checked against the EC2 API model
    (../shared/aws/ec2-2016-11-15/service-2.json). Violations answer with an
    error and are appended to sim.violations, so a test can assert it is empty.
    With smithy_verify=True (the default) every signature is also recomputed by
    AWS's own signer, @smithy/signature-v4, in one persistent node process
    (tests/aws-js/verify-sigv4.mjs; `make deps` installs tests/aws-js/node_modules,
    and the simulator refuses to start without it); a disagreement is a violation.

State: volumes (creating -> available -> in-use -> deleting), attachments
(attaching -> attached -> detaching), tags, ClientToken idempotency, the
instance's block device mappings with DeleteOnTermination, terminate_instance()
which deletes the DeleteOnTermination volumes (leak counting).

Hooks: on_attach(volume_id, size_bytes, device) is called (from a timer
thread) attach_latency_s after AttachVolume, before the attachment turns
"attached"; on_detach(volume_id) after DetachVolume.

Faults: throttle_next(n, action=None), fail_next(action, code, n=1),
set_delay(action, s), stuck_attaching = True, never_call_on_attach = True,
imds_down = True, expire_credentials(), token buckets like EC2's
(CreateVolume 100 + 5/s, other mutating 50 + 5/s, describe 100 + 20/s).

Every accepted-or-not call is recorded in sim.calls as (action, params), and its
answer in sim.responses as (action, status, error code or None, request id).
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def shared_dir():
    return os.environ.get("DMSCALE_SHARED_DIR") or os.path.join(ROOT, "..", "shared")


# ---------------------------------------------------------------- API model
class Model:
    """Resolves flattened EC2 query parameter names against service-2.json."""

    def __init__(self, path=None):
        path = path or os.path.join(shared_dir(), "aws", "ec2-2016-11-15", "service-2.json")
        with open(path) as f:
            m = json.load(f)
        self.ops = m["operations"]
        self.shapes = m["shapes"]

    @staticmethod
    def _ser_name(key, member):
        if "queryName" in member:
            return member["queryName"]
        if "locationName" in member:
            ln = member["locationName"]
            return ln[0].upper() + ln[1:]
        return key

    def param_type(self, action, name):
        """Scalar type of a parameter, or None if the name is not in the model."""
        op = self.ops.get(action)
        if not op or "input" not in op:
            return None
        shape = self.shapes[op["input"]["shape"]]
        segs = name.split(".")
        i = 0
        while True:
            t = shape["type"]
            if t == "list":
                if i >= len(segs) or not segs[i].isdigit() or int(segs[i]) < 1:
                    return None
                shape = self.shapes[shape["member"]["shape"]]
                i += 1
                continue
            if t == "structure":
                if i >= len(segs):
                    return None
                for key, mem in shape.get("members", {}).items():
                    if self._ser_name(key, mem) == segs[i]:
                        shape = self.shapes[mem["shape"]]
                        i += 1
                        break
                else:
                    return None
                continue
            if t == "map":
                return None
            return t if i == len(segs) else None

    def check(self, action, params):
        """List of problems (empty when every name and value type is valid)."""
        if action not in self.ops:
            return [f"unknown action {action!r}"]
        problems = []
        for k, v in params.items():
            t = self.param_type(action, k)
            if t is None:
                problems.append(f"{action}: unknown parameter {k!r}")
            elif t in ("integer", "long") and not (v.lstrip("-").isdigit()):
                problems.append(f"{action}: {k}={v!r} is not an {t}")
            elif t == "boolean" and v not in ("true", "false"):
                problems.append(f"{action}: {k}={v!r} is not a boolean")
        return problems


# ---------------------------------------------------------------- SigV4
def _h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(s, safe=""):
    return urllib.parse.quote(s, safe="-_.~" + safe)


def sigv4_signature(secret, method, path, query, headers, signed, body, amz_date, region, service):
    """headers: dict lower-name -> value. Returns (signature, creq, sts)."""
    canon_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    pairs = sorted((_uri_encode(urllib.parse.unquote(k)), _uri_encode(urllib.parse.unquote(v)))
                   for k, v in (p.split("=", 1) if "=" in p else (p, "")
                                for p in query.split("&") if p))
    creq = "\n".join([method, _uri_encode(path, "/"), "&".join(f"{k}={v}" for k, v in pairs),
                      canon_headers, ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _h(_h(_h(_h(("AWS4" + secret).encode(), amz_date[:8]), region), service), "aws4_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(), creq, sts


AWS_JS = os.path.join(ROOT, "tests", "aws-js")


class SmithyVerifier:
    """AWS's own SigV4 signer as an oracle: one `node verify-sigv4.mjs` per simulator,
    started on first use, one request at a time (lock), stopped by close()."""

    TIMEOUT_S = 20.0

    def __init__(self, script=None):
        self.script = script or os.path.join(AWS_JS, "verify-sigv4.mjs")
        self.node = self.check_installed()
        self.lock = threading.Lock()
        self.proc = None
        self.answers = None
        self.stderr_tail = []
        self.checks = 0          # requests the node signer answered
        self._id = 0

    @staticmethod
    def check_installed():
        """Path of node; raises RuntimeError naming `make deps` when anything is missing."""
        node = os.environ.get("DMSCALE_NODE") or shutil.which("node")
        mod = os.path.join(AWS_JS, "node_modules", "@smithy", "signature-v4", "package.json")
        if not node:
            raise RuntimeError("ec2sim: smithy_verify needs node on PATH; run `make deps`")
        if not os.path.exists(mod):
            raise RuntimeError(f"ec2sim: smithy_verify needs {os.path.dirname(mod)} "
                               "(npm ci in tests/aws-js); run `make deps`")
        return node

    def _start(self):
        self.proc = subprocess.Popen([self.node, self.script], cwd=AWS_JS, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "NODE_OPTIONS": ""})
        self.answers = queue.Queue()
        proc, answers, tail = self.proc, self.answers, self.stderr_tail

        def read_out():
            for line in proc.stdout:
                answers.put(line)
            answers.put(None)

        def read_err():
            for line in proc.stderr:
                tail.append(line.decode(errors="replace").rstrip())
                del tail[:-20]

        for fn in (read_out, read_err):
            threading.Thread(target=fn, daemon=True).start()

    def sign(self, req):
        """req: dict for verify-sigv4.mjs. Returns its answer (a dict); raises RuntimeError
        when the verifier cannot answer (died, timed out)."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            self._id += 1
            rid = self._id
            try:
                self.proc.stdin.write((json.dumps({**req, "id": rid}) + "\n").encode())
                self.proc.stdin.flush()
            except OSError as e:
                self._kill()
                raise RuntimeError(f"smithy verifier not accepting input ({e}): "
                                   + " | ".join(self.stderr_tail[-5:]))
            deadline = time.monotonic() + self.TIMEOUT_S
            while True:
                try:
                    line = self.answers.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    self._kill()
                    raise RuntimeError(f"smithy verifier gave no answer in {self.TIMEOUT_S:.0f} s")
                if line is None:
                    self._kill()
                    raise RuntimeError("smithy verifier exited: " + " | ".join(self.stderr_tail[-5:]))
                ans = json.loads(line)
                if ans.get("id") == rid:     # skip a late answer to a timed-out request
                    self.checks += 1
                    return ans

    def _kill(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        try:
            p.stdin.close()           # the verifier exits at end of input
        except OSError:
            pass
        try:
            p.wait(timeout=2)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def close(self):
        with self.lock:
            self._kill()


def _auth_fields(auth):
    """'AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...' -> dict."""
    out = {}
    for part in auth.strip()[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        out[k] = v
    return out


class ApiError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


# ---------------------------------------------------------------- state
class TokenBucket:
    def __init__(self, capacity, refill_per_s, clock):
        self.capacity, self.rate, self.clock = capacity, refill_per_s, clock
        self.tokens, self.t = float(capacity), clock()

    def take(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Volume:
    def __init__(self, vid, size_gib, az, vtype, iops, throughput, encrypted, kms, tags, token):
        self.id, self.size_gib, self.az, self.type = vid, size_gib, az, vtype
        self.iops, self.throughput, self.encrypted, self.kms = iops, throughput, encrypted, kms
        self.tags, self.client_token = tags, token
        self.state = "creating"
        self.attachment = None  # dict(instance, device, state, dot)
        self.create_time = datetime.datetime.now(datetime.timezone.utc)


MUTATING = {"CreateVolume", "AttachVolume", "DetachVolume", "DeleteVolume", "ModifyInstanceAttribute"}


class EC2Sim:
    def __init__(self, instance_id="i-0123456789abcdef0", region="us-east-1", az="us-east-1a",
                 role="dmscale-role", cred_ttl_s=3600, create_latency_s=0.2, attach_latency_s=0.5,
                 detach_latency_s=0.3, delete_latency_s=0.1, on_attach=None, on_detach=None, on_delete=None,
                 token_buckets=True, host="127.0.0.1", imds_port=0, ec2_port=0, clock=time.time,
                 model_path=None, smithy_verify=True, imds_v1=False):
        self.instance_id, self.region, self.az, self.role = instance_id, region, az, role
        self.cred_ttl_s = cred_ttl_s
        self.create_latency_s, self.attach_latency_s = create_latency_s, attach_latency_s
        self.detach_latency_s, self.delete_latency_s = detach_latency_s, delete_latency_s
        self.on_attach, self.on_detach, self.on_delete = on_attach, on_detach, on_delete
        self.host, self._ports = host, (imds_port, ec2_port)
        self.clock = clock
        self.model = Model(model_path)
        # AWS's own signer as a second, independent check (raises if not installed)
        self.smithy = SmithyVerifier() if smithy_verify else None
        self.lock = threading.RLock()
        self.calls = []          # (action, params) for every EC2 request that parsed
        self.responses = []      # (action, http status, error code or None, request id) per answer
        self.imds_calls = []     # (method, path)
        self.violations = []     # signature / model / protocol problems
        self.volumes = {}        # id -> Volume
        self.deleted = {}        # id -> Volume (kept for assertions)
        self.bdm = {"/dev/xvda": {"volume": "vol-0root000000000000", "dot": True, "state": "attached"}}
        self.terminated = False
        # faults
        self._throttle = []      # [remaining, action or None]
        self._fail = []          # [action, code, remaining, status]
        self.delays = {}         # action -> seconds
        self.stuck_attaching = False
        self.never_call_on_attach = False
        self.imds_down = False
        # IMDSv1 (a GET without a token) is refused unless the instance allows it,
        # like an instance launched with HttpTokens=optional (amazon-ebs-autoscale's
        # default config reads metadata with tokenless curl GETs).
        self.imds_v1 = imds_v1
        self.instance_tags = {}  # DescribeTags on the instance
        self.buckets = {} if token_buckets else None
        # credentials
        self.imds_tokens = {}    # token -> expiry
        self.creds = {}          # access key -> dict(secret, token, expires)
        self._current_ak = None
        self._timers = []
        self._servers = []

    # ------------------------------------------------------------ lifecycle
    def start(self):
        sim = self

        class Imds(_Handler):
            def do_PUT(self):
                sim._imds(self, "PUT")

            def do_GET(self):
                sim._imds(self, "GET")

        class Ec2(_Handler):
            def do_POST(self):
                sim._ec2(self)

        for port, cls in zip(self._ports, (Imds, Ec2)):
            srv = ThreadingHTTPServer((self.host, port), cls)
            srv.daemon_threads = True
            t = threading.Thread(target=srv.serve_forever, daemon=True)
            t.start()
            self._servers.append(srv)
        return self

    def stop(self):
        for t in self._timers:
            t.cancel()
        for s in self._servers:
            s.shutdown()
            s.server_close()
        self._servers = []
        if self.smithy is not None:
            self.smithy.close()

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    @property
    def imds_url(self):
        return f"http://{self.host}:{self._servers[0].server_address[1]}"

    @property
    def ec2_url(self):
        return f"http://{self.host}:{self._servers[1].server_address[1]}"

    # ------------------------------------------------------------ faults / helpers
    def throttle_next(self, n, action=None):
        with self.lock:
            self._throttle.append([n, action])

    def fail_next(self, action, code, n=1, status=None):
        with self.lock:
            self._fail.append([action, code, n, status])

    def set_delay(self, action, seconds):
        self.delays[action] = seconds

    def expire_credentials(self):
        with self.lock:
            for c in self.creds.values():
                c["expires"] = self.clock() - 1

    def add_static_credentials(self, access_key, secret_key, token=None):
        with self.lock:
            self.creds[access_key] = {"secret": secret_key, "token": token, "expires": float("inf")}

    def actions(self):
        with self.lock:
            return [a for a, _ in self.calls]

    def live_volumes(self):
        with self.lock:
            return {vid: v for vid, v in self.volumes.items()}

    def terminate_instance(self):
        """Delete every attached volume with DeleteOnTermination; return what is left (leaks)."""
        with self.lock:
            self.terminated = True
            for dev, m in list(self.bdm.items()):
                v = self.volumes.get(m["volume"])
                if m["dot"] and v:
                    self.deleted[v.id] = self.volumes.pop(v.id)
                    v.state = "deleted"
                del self.bdm[dev]
            return {vid: v for vid, v in self.volumes.items()}

    def _later(self, delay, fn, *args):
        t = threading.Timer(max(0.0, delay), fn, args)
        t.daemon = True
        self._timers.append(t)
        t.start()

    # ------------------------------------------------------------ IMDS
    def _issue_creds(self):
        now = self.clock()
        cur = self.creds.get(self._current_ak)
        if cur and cur["expires"] - now > self.cred_ttl_s / 2:
            return self._current_ak, cur
        ak = "ASIA" + secrets.token_hex(8).upper()
        c = {"secret": secrets.token_urlsafe(30), "token": "IQoJ" + secrets.token_urlsafe(90),
             "expires": now + self.cred_ttl_s, "issued": now}
        self.creds[ak] = c
        self._current_ak = ak
        return ak, c

    def _imds(self, h, method):
        path = urllib.parse.urlsplit(h.path).path
        with self.lock:
            self.imds_calls.append((method, path))
        if self.imds_down:
            return h.reply(503, b"", "text/plain")
        now = self.clock()
        if method == "PUT":
            if path != "/latest/api/token":
                return h.reply(404, b"Not Found", "text/plain")
            ttl = h.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return h.reply(400, b"Bad Request", "text/plain")
            tok = "AQAEA" + secrets.token_urlsafe(40)
            with self.lock:
                self.imds_tokens[tok] = now + int(ttl)
            return h.reply(200, tok.encode(), "text/plain",
                           {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        tok = h.headers.get("X-aws-ec2-metadata-token")
        with self.lock:
            exp = self.imds_tokens.get(tok)
        if tok is None and self.imds_v1:
            exp = now + 1
        if exp is None or exp <= now:
            return h.reply(401, b"Unauthorized", "text/plain")
        md = "/latest/meta-data/"
        values = {
            md + "instance-id": self.instance_id,
            md + "placement/region": self.region,
            md + "placement/availability-zone": self.az,
            md + "iam/security-credentials/": self.role,
            "/latest/dynamic/instance-identity/document": json.dumps({
                "instanceId": self.instance_id, "region": self.region,
                "availabilityZone": self.az, "instanceType": "m5.large",
                "accountId": "111122223333", "architecture": "x86_64"}, indent=2),
        }
        if path == md + "iam/security-credentials/" + self.role:
            with self.lock:
                ak, c = self._issue_creds()
            body = json.dumps({
                "Code": "Success", "LastUpdated": _iso(c["issued"]), "Type": "AWS-HMAC",
                "AccessKeyId": ak, "SecretAccessKey": c["secret"], "Token": c["token"],
                "Expiration": _iso(c["expires"])}, indent=2)
            return h.reply(200, body.encode(), "text/plain")
        if path in values:
            return h.reply(200, values[path].encode(), "text/plain")
        return h.reply(404, b"Not Found", "text/plain")

    # ------------------------------------------------------------ EC2 dispatch
    def _ec2(self, h):
        body = h.body
        rid = str(uuid.uuid4())
        try:
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                                 strict_parsing=True)) if body else {}
        except (UnicodeDecodeError, ValueError):
            self.violations.append("unparseable form body")
            return h.reply(400, _err("MalformedQueryString", "bad body", rid), "text/xml",
                           {"x-amzn-RequestId": rid})
        action = params.pop("Action", "")
        version = params.pop("Version", "")
        with self.lock:
            self.calls.append((action, dict(params)))
        try:
            self._verify_signature(h, body)
            if version != "2016-11-15":
                raise ApiError("InvalidParameterValue", f"bad Version {version!r}")
            problems = self.model.check(action, params)
            if problems:
                self.violations.extend(problems)
                raise ApiError("UnknownParameter" if action in self.model.ops else "InvalidAction",
                               "; ".join(problems))
            if action in self.delays:
                time.sleep(self.delays[action])
            self._faults(action)
            fn = getattr(self, "_a_" + action, None)
            if fn is None:
                raise ApiError("InvalidAction", f"{action} is not simulated")
            with self.lock:
                inner = fn(params)
            xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{NS}">\n'
                   f"    <requestId>{rid}</requestId>\n{inner}</{action}Response>")
            with self.lock:
                self.responses.append((action, 200, None, rid))
            return h.reply(200, xml.encode(), "text/xml;charset=UTF-8", {"x-amzn-RequestId": rid})
        except ApiError as e:
            with self.lock:
                self.responses.append((action, e.status, e.code, rid))
            # like EC2, the request id is in the body and in x-amzn-RequestId (the SDKs read the header)
            return h.reply(e.status, _err(e.code, e.message, rid), "text/xml;charset=UTF-8",
                           {"x-amzn-RequestId": rid})

    def _verify_signature(self, h, body):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            self.violations.append("missing/unsupported Authorization")
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
        try:
            fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
            ak, date8, region, service, term = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            sig = fields["Signature"]
        except (ValueError, KeyError):
            self.violations.append("malformed Authorization")
            raise ApiError("AuthFailure", "malformed Authorization header", 401)
        amz_date = h.headers.get("X-Amz-Date", "")
        problems = []
        if region != self.region or service != "ec2" or term != "aws4_request":
            problems.append(f"bad credential scope {region}/{service}/{term}")
        if amz_date[:8] != date8:
            problems.append("scope date differs from X-Amz-Date")
        for need in ("host", "x-amz-date"):
            if need not in signed:
                problems.append(f"{need} not signed")
        if signed != sorted(signed):
            problems.append("SignedHeaders not sorted")
        try:
            t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            if abs(t - time.time()) > 300:
                raise ApiError("RequestExpired", "Request has expired.", 400)
        except ValueError:
            problems.append("bad X-Amz-Date")
        with self.lock:
            cred = self.creds.get(ak)
        if cred is None:
            self.violations.append(f"unknown access key {ak[:4]}…")
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
        if cred["expires"] <= self.clock():
            raise ApiError("ExpiredToken", "The security token included in the request is expired", 400)
        tok = h.headers.get("X-Amz-Security-Token")
        if cred["token"] and (tok != cred["token"] or "x-amz-security-token" not in signed):
            problems.append("session token missing, wrong or unsigned")
        headers = {}
        for name in signed:
            vals = h.headers.get_all(name)
            if vals is None:
                problems.append(f"signed header {name} not sent")
                vals = [""]
            headers[name] = ",".join(v.strip() for v in vals)
        path, _, query = h.path.partition("?")
        want, creq, _ = sigv4_signature(cred["secret"], "POST", path, query, headers, signed,
                                        body, amz_date, region, service)
        if not hmac.compare_digest(want, sig):
            problems.append("signature mismatch; canonical request was:\n" + creq)
        if self.smithy is not None:
            problems.extend(self._smithy_check(h, body, auth, ak, cred, amz_date))
        if problems:
            self.violations.extend(problems)
            raise ApiError("SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided.", 403)

    def _smithy_check(self, h, body, auth, ak, cred, amz_date):
        """Recompute the Authorization with @smithy/signature-v4 for this simulator's
        region and service ("ec2"), signing the headers the request says it signed."""
        req = {"method": h.command, "host": h.headers.get("Host", ""), "path": h.path,
               "headers": [[k, v] for k, v in h.headers.items()],
               "body_b64": base64.b64encode(body).decode(), "region": self.region, "service": "ec2",
               "accessKeyId": ak, "secretAccessKey": cred["secret"], "amzDate": amz_date}
        if cred["token"]:
            req["sessionToken"] = cred["token"]
        try:
            ans = self.smithy.sign(req)
        except RuntimeError as e:
            self.violations.append(f"smithy verifier failed: {e}")
            raise ApiError("InternalError", "signature verifier unavailable", 500)
        if "error" in ans:
            return [f"smithy verifier: {ans['error']}"]
        problems = [f"smithy: {p}" for p in ans.get("problems", [])]
        want, got = _auth_fields(ans["expected_authorization"]), _auth_fields(auth)
        for field in ("Credential", "SignedHeaders", "Signature"):
            if want.get(field) != got.get(field):
                problems.append(f"smithy SigV4 mismatch in {field}: request has {got.get(field)!r}, "
                                f"@smithy/signature-v4 computed {want.get(field)!r}")
        return problems

    def _faults(self, action):
        with self.lock:
            for f in self._fail:
                if f[0] == action and f[2] > 0:
                    f[2] -= 1
                    code, status = f[1], f[3]
                    raise ApiError(code, f"injected {code}", status or _status_of(code))
            for t in self._throttle:
                if t[0] > 0 and (t[1] is None or t[1] == action):
                    t[0] -= 1
                    raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)
            if self.buckets is not None:
                if action == "CreateVolume":
                    key, cap, rate = action, 100, 5
                elif action in MUTATING:
                    key, cap, rate = action, 50, 5
                else:
                    key, cap, rate = action, 100, 20
                b = self.buckets.setdefault(key, TokenBucket(cap, rate, self.clock))
                if not b.take():
                    raise ApiError("RequestLimitExceeded", "Request limit exceeded.", 503)

    # ------------------------------------------------------------ actions
    def _vol(self, vid):
        v = self.volumes.get(vid)
        if v is None:
            raise ApiError("InvalidVolume.NotFound", f"The volume '{vid}' does not exist.")
        return v

    def _a_CreateVolume(self, p):
        if p.get("AvailabilityZone") != self.az:
            raise ApiError("InvalidParameterValue", f"Invalid availability zone: [{p.get('AvailabilityZone')}]")
        size = int(p.get("Size", "0"))
        vtype = p.get("VolumeType", "gp2")
        if not 1 <= size <= 16384:
            raise ApiError("InvalidParameterValue", f"Volume of {size}GiB is too large or too small")
        if "KmsKeyId" in p and p.get("Encrypted") != "true":
            raise ApiError("InvalidParameterDependency", "KmsKeyId requires Encrypted")
        if "Throughput" in p and vtype != "gp3":
            raise ApiError("InvalidParameterCombination", "Throughput is only valid for gp3")
        tags = {}
        if "TagSpecification.1.ResourceType" in p or any(k.startswith("TagSpecification.") for k in p):
            if p.get("TagSpecification.1.ResourceType") != "volume":
                raise ApiError("InvalidParameterValue", "TagSpecification ResourceType must be volume")
            i = 1
            while f"TagSpecification.1.Tag.{i}.Key" in p:
                tags[p[f"TagSpecification.1.Tag.{i}.Key"]] = p.get(f"TagSpecification.1.Tag.{i}.Value", "")
                i += 1
        token = p.get("ClientToken")
        if token:
            for v in list(self.volumes.values()) + list(self.deleted.values()):
                if v.client_token == token:
                    if v.size_gib != size or v.type != vtype:
                        raise ApiError("IdempotentParameterMismatch", "ClientToken reused with other parameters")
                    return _volume_xml(v, top=True)
        vid = "vol-0" + secrets.token_hex(8)
        v = Volume(vid, size, self.az, vtype, p.get("Iops"), p.get("Throughput"),
                   p.get("Encrypted") == "true", p.get("KmsKeyId"), tags, token)
        self.volumes[vid] = v
        self._later(self.create_latency_s, self._set_state, vid, "creating", "available")
        return _volume_xml(v, top=True)

    def _set_state(self, vid, frm, to):
        with self.lock:
            v = self.volumes.get(vid)
            if v and v.state == frm:
                v.state = to

    def _a_DescribeVolumes(self, p):
        ids = [v for k, v in sorted(p.items()) if k.startswith("VolumeId.")]
        filters = {}
        i = 1
        while f"Filter.{i}.Name" in p:
            vals, j = [], 1
            while f"Filter.{i}.Value.{j}" in p:
                vals.append(p[f"Filter.{i}.Value.{j}"])
                j += 1
            filters[p[f"Filter.{i}.Name"]] = vals
            i += 1
        if ids:
            vols = [self._vol(vid) for vid in ids]
        else:
            vols = sorted(self.volumes.values(), key=lambda v: v.create_time)
        for name, vals in filters.items():
            if name.startswith("tag:"):
                vols = [v for v in vols if v.tags.get(name[4:]) in vals]
            elif name == "status":
                vols = [v for v in vols if v.state in vals]
            elif name == "attachment.instance-id":
                vols = [v for v in vols if v.attachment and v.attachment["instance"] in vals]
            elif name == "tag-key":
                vols = [v for v in vols if any(k in vals for k in v.tags)]
            else:
                raise ApiError("InvalidParameterValue", f"filter {name} is not simulated")
        tok = p.get("NextToken", "0")
        if not tok.isdigit():
            raise ApiError("InvalidParameterValue", "bad NextToken")
        start = int(tok)
        maxr = int(p.get("MaxResults", "0"))
        if maxr and (ids or not 5 <= maxr <= 500):
            raise ApiError("InvalidParameterValue", "MaxResults must be 5..500 and not with VolumeId")
        page = vols[start:start + maxr] if maxr else vols[start:]
        nxt = f"    <nextToken>{start + maxr}</nextToken>\n" if maxr and start + maxr < len(vols) else ""
        items = "".join(_volume_xml(v) for v in page)
        return f"    <volumeSet>\n{items}    </volumeSet>\n{nxt}"

    def _a_AttachVolume(self, p):
        v = self._vol(p["VolumeId"])
        dev, inst = p["Device"], p["InstanceId"]
        if inst != self.instance_id or self.terminated:
            raise ApiError("InvalidInstanceID.NotFound", f"The instance ID '{inst}' does not exist")
        if v.state != "available":
            raise ApiError("IncorrectState", f"{v.id} is not 'available'.")
        if dev in self.bdm:
            raise ApiError("InvalidParameterValue", f"Invalid value '{dev}' for unixDevice. Attachment point {dev} is already in use")
        if sum(1 for d in self.bdm if d.startswith("/dev/xvdb")) >= 26:
            raise ApiError("AttachmentLimitExceeded", "attachment limit reached")
        v.state = "in-use"
        v.attachment = {"instance": inst, "device": dev, "state": "attaching", "dot": False,
                        "time": _iso(time.time())}
        self.bdm[dev] = {"volume": v.id, "dot": False, "state": "attaching"}
        if not self.stuck_attaching:
            self._later(self.attach_latency_s, self._finish_attach, v.id, dev)
        return _attachment_xml(v.id, v.attachment)

    def _finish_attach(self, vid, dev):
        with self.lock:
            v = self.volumes.get(vid)
            if not v or not v.attachment or v.attachment["state"] != "attaching":
                return
            size = v.size_gib << 30
        if self.on_attach and not self.never_call_on_attach:
            self.on_attach(vid, size, dev)
        with self.lock:
            if v.attachment and v.attachment["state"] == "attaching":
                v.attachment["state"] = "attached"
                if dev in self.bdm:
                    self.bdm[dev]["state"] = "attached"

    def _a_DetachVolume(self, p):
        v = self._vol(p["VolumeId"])
        if not v.attachment:
            raise ApiError("IncorrectState", f"Volume '{v.id}' is in the 'available' state.")
        if "InstanceId" in p and p["InstanceId"] != v.attachment["instance"]:
            raise ApiError("InvalidAttachment.NotFound", "not attached to that instance")
        a = v.attachment
        a["state"] = "detaching"
        if a["device"] in self.bdm:
            self.bdm[a["device"]]["state"] = "detaching"
        self._later(self.detach_latency_s, self._finish_detach, v.id)
        return _attachment_xml(v.id, a)

    def _finish_detach(self, vid):
        with self.lock:
            v = self.volumes.get(vid)
            if not v or not v.attachment:
                return
            dev = v.attachment["device"]
        if self.on_detach:
            self.on_detach(vid)
        with self.lock:
            self.bdm.pop(dev, None)
            v.attachment = None
            v.state = "available"

    def _a_DeleteVolume(self, p):
        v = self._vol(p["VolumeId"])
        if v.state != "available":
            raise ApiError("VolumeInUse", f"Volume {v.id} is currently attached to {self.instance_id}"
                           if v.attachment else f"Volume {v.id} is {v.state}")
        v.state = "deleting"
        self._later(self.delete_latency_s, self._finish_delete, v.id)
        return "    <return>true</return>\n"

    def _finish_delete(self, vid):
        with self.lock:
            v = self.volumes.pop(vid, None)
            if v:
                v.state = "deleted"
                self.deleted[vid] = v
        if v and self.on_delete:
            self.on_delete(vid)       # e.g. free the disk's backing file

    def _a_ModifyInstanceAttribute(self, p):
        if p.get("InstanceId") != self.instance_id:
            raise ApiError("InvalidInstanceID.NotFound", "no such instance")
        dev = p.get("BlockDeviceMapping.1.DeviceName")
        dot = p.get("BlockDeviceMapping.1.Ebs.DeleteOnTermination")
        if dev is None or dot is None:
            raise ApiError("InvalidParameterCombination", "only BlockDeviceMapping DeleteOnTermination is simulated")
        m = self.bdm.get(dev)
        if m is None:
            raise ApiError("InvalidInstanceAttributeValue", f"No device is currently mapped at {dev}")
        m["dot"] = dot == "true"
        v = self.volumes.get(m["volume"])
        if v and v.attachment:
            v.attachment["dot"] = m["dot"]
        return "    <return>true</return>\n"

    def _bdm_xml(self):
        items = "".join(
            f"            <item><deviceName>{escape(d)}</deviceName><ebs><volumeId>{m['volume']}</volumeId>"
            f"<status>{m['state']}</status><attachTime>{_iso(time.time())}</attachTime>"
            f"<deleteOnTermination>{str(m['dot']).lower()}</deleteOnTermination></ebs></item>\n"
            for d, m in sorted(self.bdm.items()))
        return f"        <blockDeviceMapping>\n{items}        </blockDeviceMapping>\n"

    def _a_DescribeInstances(self, p):
        ids = [v for k, v in p.items() if k.startswith("InstanceId.")]
        if ids and ids != [self.instance_id]:
            raise ApiError("InvalidInstanceID.NotFound", f"The instance ID '{ids[0]}' does not exist")
        state = "terminated" if self.terminated else "running"
        return ("    <reservationSet><item><reservationId>r-0123456789abcdef0</reservationId>"
                "<ownerId>111122223333</ownerId><groupSet/><instancesSet><item>\n"
                f"        <instanceId>{self.instance_id}</instanceId><instanceType>m5.large</instanceType>"
                f"<instanceState><code>16</code><name>{state}</name></instanceState>"
                f"<placement><availabilityZone>{self.az}</availabilityZone></placement>"
                "<rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>\n"
                f"{self._bdm_xml()}    </item></instancesSet></item></reservationSet>\n")

    def _a_DescribeTags(self, p):
        """Tags of the instance and of the volumes; filters resource-id, resource-type, key."""
        rows = [(self.instance_id, "instance", k, v) for k, v in sorted(self.instance_tags.items())]
        for vol in sorted(self.volumes.values(), key=lambda x: x.create_time):
            rows += [(vol.id, "volume", k, v) for k, v in sorted(vol.tags.items())]
        i = 1
        while f"Filter.{i}.Name" in p:
            name, vals, j = p[f"Filter.{i}.Name"], [], 1
            while f"Filter.{i}.Value.{j}" in p:
                vals.append(p[f"Filter.{i}.Value.{j}"])
                j += 1
            col = {"resource-id": 0, "resource-type": 1, "key": 2}.get(name)
            if col is None:
                raise ApiError("InvalidParameterValue", f"filter {name} is not simulated")
            rows = [r for r in rows if r[col] in vals]
            i += 1
        items = "".join(f"        <item><resourceId>{r}</resourceId><resourceType>{t}</resourceType>"
                        f"<key>{escape(k)}</key><value>{escape(v)}</value></item>\n" for r, t, k, v in rows)
        return f"    <tagSet>\n{items}    </tagSet>\n"

    def _a_DescribeInstanceAttribute(self, p):
        if p.get("InstanceId") != self.instance_id:
            raise ApiError("InvalidInstanceID.NotFound", "no such instance")
        if p.get("Attribute") != "blockDeviceMapping":
            raise ApiError("InvalidParameterValue", "only blockDeviceMapping is simulated")
        return f"    <instanceId>{self.instance_id}</instanceId>\n{self._bdm_xml()}"


# ---------------------------------------------------------------- XML
def _iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _err(code, message, rid):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>").encode()


def _status_of(code):
    if code in ("RequestLimitExceeded", "InternalError", "Unavailable", "ServiceUnavailable"):
        return 503 if code != "InternalError" else 500
    if code == "UnauthorizedOperation":
        return 403
    if code == "AuthFailure":
        return 401
    return 400


def _attachment_xml(vid, a, indent="    "):
    return (f"{indent}<volumeId>{vid}</volumeId>\n{indent}<instanceId>{a['instance']}</instanceId>\n"
            f"{indent}<device>{escape(a['device'])}</device>\n{indent}<status>{a['state']}</status>\n"
            f"{indent}<attachTime>{a['time']}</attachTime>\n"
            f"{indent}<deleteOnTermination>{str(a['dot']).lower()}</deleteOnTermination>\n")


def _volume_xml(v, top=False):
    i = "    " if top else "            "
    tags = "".join(f"{i}    <item><key>{escape(k)}</key><value>{escape(val)}</value></item>\n"
                   for k, val in v.tags.items())
    extra = ""
    if v.iops:
        extra += f"{i}<iops>{v.iops}</iops>\n"
    if v.throughput:
        extra += f"{i}<throughput>{v.throughput}</throughput>\n"
    if v.kms:
        extra += f"{i}<kmsKeyId>{escape(v.kms)}</kmsKeyId>\n"
    body = (f"{i}<volumeId>{v.id}</volumeId>\n{i}<size>{v.size_gib}</size>\n{i}<snapshotId/>\n"
            f"{i}<availabilityZone>{v.az}</availabilityZone>\n{i}<status>{v.state}</status>\n"
            f"{i}<createTime>{v.create_time.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</createTime>\n"
            f"{i}<volumeType>{v.type}</volumeType>\n{i}<encrypted>{str(v.encrypted).lower()}</encrypted>\n"
            f"{i}<multiAttachEnabled>false</multiAttachEnabled>\n{extra}")
    if not top:
        att = ""
        if v.attachment:
            att = "\n" + f"{i}    <item>\n" + _attachment_xml(v.id, v.attachment, i + "        ") + f"{i}    </item>\n{i}"
        body += f"{i}<attachmentSet>{att}</attachmentSet>\n"
    body += f"{i}<tagSet>\n{tags}{i}</tagSet>\n" if tags else ""
    return body if top else f"        <item>\n{body}        </item>\n"


# ---------------------------------------------------------------- HTTP plumbing
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def parse_request(self):
        # One handler instance serves every request of a keep-alive
        # connection: read this request's body here, before dispatch.
        ok = super().parse_request()
        self.body = b""
        if ok:
            try:
                n = int(self.headers.get("Content-Length", "0") or 0)
            except ValueError:
                n = -1
            if n < 0 or n > (1 << 20):
                self.send_error(400)
                return False
            self.body = self.rfile.read(n) if n else b""
        return ok

    def reply(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":  # manual use: python3 ec2sim.py
    s = EC2Sim(on_attach=lambda *a: print("attach", *a), on_detach=lambda *a: print("detach", *a)).start()
    print("IMDS", s.imds_url, "EC2", s.ec2_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.stop()
