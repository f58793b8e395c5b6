// Drives tests/vm/ec2sim.py with the official @aws-sdk/client-ec2 (which signs with AWS's
// own SigV4 signer and parses the simulator's XML with AWS's own ec2 protocol code).
//
//   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... [AWS_SESSION_TOKEN=...] \
//     node sdk-client.mjs --endpoint http://127.0.0.1:PORT --region us-east-1
//
// Then one command per stdin line, one JSON answer per stdout line, in order:
//   {"op": "CreateVolume", "input": {...}, "maxAttempts": 1}       (maxAttempts optional, default 3)
//   -> {"ok": true,  "output": {...parsed output...}, "metadata": {...$metadata...}}
//   -> {"ok": false, "error": {"name", "message", "Code", "$fault", "$retryable", "$metadata", ...}}
//   {"op": "_info"} -> {"ok": true, "output": {"sdkVersion": ..., "node": ...}}
// Exits at end of input. The endpoint must be loopback: the client never looks for
// credentials or region anywhere else (both are given explicitly).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import * as ec2 from "@aws-sdk/client-ec2";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const endpoint = args.endpoint;
const region = args.region || "us-east-1";
if (!endpoint || !/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost):\d+\/?$/.test(endpoint)) {
  console.error("sdk-client: --endpoint http://127.0.0.1:PORT (loopback only) is required");
  process.exit(2);
}
const credentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}),
};
if (!credentials.accessKeyId || !credentials.secretAccessKey) {
  console.error("sdk-client: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required");
  process.exit(2);
}

const clients = new Map();   // maxAttempts -> EC2Client
function client(maxAttempts) {
  if (!clients.has(maxAttempts)) {
    clients.set(maxAttempts, new ec2.EC2Client({ endpoint, region, credentials, maxAttempts }));
  }
  return clients.get(maxAttempts);
}

const require = createRequire(import.meta.url);
const sdkVersion = require("@aws-sdk/client-ec2/package.json").version;

function errorFields(e) {
  const out = { name: e?.name, message: e?.message };
  for (const [k, v] of Object.entries(e ?? {})) {
    if (k !== "stack" && typeof v !== "function") out[k] = v;
  }
  return out;
}

async function run(cmd) {
  if (cmd.op === "_info") {
    return { ok: true, output: { sdkVersion, node: process.version } };
  }
  const Command = ec2[`${cmd.op}Command`];
  if (typeof Command !== "function") throw new Error(`no command ${cmd.op}Command in @aws-sdk/client-ec2`);
  try {
    const { $metadata, ...output } = await client(cmd.maxAttempts ?? 3).send(new Command(cmd.input ?? {}));
    return { ok: true, output, metadata: $metadata };
  } catch (e) {
    return { ok: false, error: errorFields(e) };
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
let chain = Promise.resolve();
rl.on("line", (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let ans;
    try {
      ans = await run(JSON.parse(line));
    } catch (e) {
      ans = { ok: false, error: { name: "DriverError", message: String(e?.message ?? e) } };
    }
    process.stdout.write(JSON.stringify(ans) + "\n");
  });
});
rl.on("close", () => {
  chain.then(() => {
    for (const c of clients.values()) c.destroy();
    process.exit(0);
  });
});
