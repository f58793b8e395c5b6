// SigV4 re-computation with AWS's own signer (@smithy/signature-v4), for tests/vm/ec2sim.py.
//
// Long-running: one JSON request per stdin line, one JSON answer per stdout line, in order.
// Exits when stdin closes. Request:
//   {"id": any, "method": "POST", "host": "127.0.0.1:1234", "path": "/?a=b",
//    "headers": [["Name", "value"], ...]   (every header as received, incl. Authorization;
//                                           an object {name: value} is accepted too),
//    "body": "utf-8 text" | "body_b64": "base64 bytes",
//    "region": "us-east-1", "service": "ec2",
//    "accessKeyId": "...", "secretAccessKey": "...",
//    "sessionToken": "..." (optional: the credentials' token; the request must carry and sign it),
//    "amzDate": "20240101T000000Z"}
// Answer:
//   {"id": same, "expected_authorization": "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...",
//    "signed_headers": "a;b;c", "problems": [...]}          or   {"id": same, "error": "..."}
//
// Which headers are signed is taken from the request's own Authorization header
// (SignedHeaders=...), so the expected signature covers exactly what the client signed;
// the signer's forced headers (x-amz-date from amzDate, x-amz-security-token from the
// request's own header, as AWS does, x-amz-content-sha256 only if the client sent it) are
// then checked against that list: any difference is reported in "problems", and so is a
// session token that is missing, unsigned or not the credentials' one.
import { createInterface } from "node:readline";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";

const sha256 = Hash.bind(null, "sha256");

function parseAuthorization(auth) {
  const m = /^AWS4-HMAC-SHA256 (.*)$/.exec((auth || "").trim());
  if (!m) return null;
  const fields = {};
  for (const part of m[1].split(",")) {
    const i = part.indexOf("=");
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return fields;
}

function signingDate(amzDate) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate || "");
  if (!m) throw new Error(`bad amzDate ${JSON.stringify(amzDate)}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// "/p?a=1&b" -> ["/p", {a: "1", b: null}] with percent-decoded keys and values
// (the signer re-encodes them the SigV4 way). Repeated keys become arrays.
function splitPath(full) {
  const q = full.indexOf("?");
  const path = q < 0 ? full : full.slice(0, q);
  const query = {};
  if (q >= 0) {
    for (const pair of full.slice(q + 1).split("&")) {
      if (!pair) continue;
      const e = pair.indexOf("=");
      const k = decodeURIComponent(e < 0 ? pair : pair.slice(0, e));
      const v = e < 0 ? null : decodeURIComponent(pair.slice(e + 1));
      if (k in query) query[k] = [].concat(query[k], v);
      else query[k] = v;
    }
  }
  return [path, query];
}

async function verify(req) {
  const pairs = Array.isArray(req.headers) ? req.headers : Object.entries(req.headers || {});
  const all = new Map();  // lower-case name -> [values]
  for (const [name, value] of pairs) {
    const k = String(name).toLowerCase();
    if (!all.has(k)) all.set(k, []);
    all.get(k).push(String(value));
  }
  const auth = parseAuthorization((all.get("authorization") || [])[0]);
  if (!auth || !auth.SignedHeaders) throw new Error("no AWS4-HMAC-SHA256 Authorization with SignedHeaders");
  const signed = auth.SignedHeaders.split(";").filter(Boolean);
  const problems = [];
  const headers = {};
  for (const name of signed) {
    if (name === "x-amz-date" || name === "authorization") continue;  // the signer sets/ignores these
    if (name === "x-amz-security-token") continue;                      // the signer sets it from sessionToken
    const vals = all.get(name);
    if (!vals) {
      problems.push(`signed header ${name} not sent`);
      headers[name] = "";
    } else {
      headers[name] = vals.map((v) => v.trim()).join(",");
    }
  }
  if (!signed.includes("host") && all.has("host")) problems.push("host not signed");
  const body = req.body_b64 !== undefined ? Buffer.from(req.body_b64, "base64")
    : Buffer.from(req.body ?? "", "utf8");
  if (headers["x-amz-content-sha256"] !== undefined) {
    const h = new sha256();
    h.update(body);
    const hex = Buffer.from(await h.digest()).toString("hex");
    if (headers["x-amz-content-sha256"] !== hex) problems.push("x-amz-content-sha256 is not the body's SHA-256");
  }
  // Like AWS, sign the token the request carries; a token other than the credentials' is
  // reported (ec2sim refuses it anyway).
  let token;
  if (signed.includes("x-amz-security-token")) {
    token = (all.get("x-amz-security-token") || []).map((v) => v.trim()).join(",");
    if (!all.has("x-amz-security-token")) problems.push("signed header x-amz-security-token not sent");
    else if (req.sessionToken && token !== req.sessionToken) {
      problems.push("x-amz-security-token is not the credentials' session token");
    }
  } else if (req.sessionToken) {
    problems.push("session token not signed");
  }
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: req.accessKeyId,
      secretAccessKey: req.secretAccessKey,
      ...(token ? { sessionToken: token } : {}),
    },
    region: req.region,
    service: req.service,
    sha256,
    applyChecksum: false,   // sign x-amz-content-sha256 only when the client did
    uriEscapePath: true,    // every AWS service except S3
  });
  const [path, query] = splitPath(req.path || "/");
  const [hostname, port] = (all.get("host") || [req.host || ""])[0].split(":");
  const out = await signer.sign(
    {
      method: req.method || "POST", protocol: "http:", hostname, port: port ? +port : undefined,
      path, query, headers, body,
    },
    {
      signingDate: signingDate(req.amzDate),
      signableHeaders: new Set(signed),   // sign user-agent etc. too if the client did
    },
  );
  const expected = out.headers.authorization;
  const mine = parseAuthorization(expected);
  if (mine.SignedHeaders !== auth.SignedHeaders) {
    problems.push(`SignedHeaders differ: request ${auth.SignedHeaders}, smithy ${mine.SignedHeaders}`);
  }
  return { expected_authorization: expected, signed_headers: mine.SignedHeaders, problems };
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
// Answers go out in request order even though verify() is async.
let chain = Promise.resolve();
rl.on("line", (line) => {
  chain = chain.then(async () => {
    let req = {};
    let ans;
    try {
      req = JSON.parse(line);
      ans = { id: req.id, ...(await verify(req)) };
    } catch (e) {
      ans = { id: req.id, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(ans) + "\n");
  });
});
rl.on("close", () => { chain.then(() => process.exit(0)); });
