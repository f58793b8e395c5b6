#!/usr/bin/python3
"""Per-I/O latency statistics from a fio lat log (log_unix_epoch=1, log_avg_msec=0):
lines "time_ms, lat_ns, dir, bs, offset". argv: LOG FIO_JSON then windows as
NAME:START_RT:END_RT (realtime seconds). Prints JSON.

max_gap_ms: the longest time between two consecutive completions in the
window (its start and end count as completions): how long the writer saw no
progress at all. The log's time column has 1 ms resolution.
max_gap_at_s: where that gap starts, in seconds from the window's start
(which is the device node's arrival on an attach trial)."""
import json
import sys


def pct(sorted_v, p):
    if not sorted_v:
        return None
    k = min(len(sorted_v) - 1, max(0, int(round(p / 100.0 * len(sorted_v) + 0.5)) - 1))
    return sorted_v[k]


rows = []
with open(sys.argv[1]) as f:
    for line in f:
        p = line.split(",")
        if len(p) >= 2:
            rows.append((int(p[0]) / 1000.0, int(p[1]) / 1000.0))   # s, µs
try:
    with open(sys.argv[2]) as f:
        txt = f.read()
    j = json.loads(txt[txt.index("{"):])
    job = j["jobs"][0]
    errors = int(job.get("error", 0)) + int(job.get("total_err", 0))
except (OSError, ValueError, KeyError, IndexError) as e:
    errors, job = None, {"parse_error": str(e)}
out = {"ios": len(rows), "errors": errors, "t_first": rows[0][0] if rows else None,
       "t_last": rows[-1][0] if rows else None, "windows": {}}
for w in sys.argv[3:]:
    name, a, b = w.split(":")
    a, b = float(a), float(b)
    v = sorted(lat for t, lat in rows if a <= t <= b)
    ts = [a] + sorted(t for t, lat in rows if a <= t <= b) + [b]
    gap_s, gap_at = max((y - x, x) for x, y in zip(ts, ts[1:]))
    out["windows"][name] = {"ios": len(v), "max_gap_ms": gap_s * 1000.0, "max_gap_at_s": gap_at - a, "p50_us": pct(v, 50), "p99_us": pct(v, 99),
                            "p999_us": pct(v, 99.9), "max_us": v[-1] if v else None,
                            "span_s": b - a}
print(json.dumps(out))
