#!/usr/bin/python3
"""One fill trace for the side-by-side run (bench/seed.py), the same for every system.

    trace.py MP FIRST_FRACTION END_BYTES RATE_BPS STEP_BYTES STOPFILE [CROSS_PCT]

1. As fast as it goes (1 GiB posix_fallocate calls), up to FIRST_FRACTION of the
   filesystem's size (a job unpacking its input): t_cross is the guest
   CLOCK_REALTIME when df's Use% first reached CROSS_PCT (50: the seed's threshold).
2. Then STEP_BYTES posix_fallocate steps paced at RATE_BPS (a late step goes at
   once) until END_BYTES are used, or the first error (ENOSPC).
Meanwhile two threads run until STOPFILE exists:
 * sizes: statvfs every 20 ms; every change of the filesystem size (t, bytes);
 * stall writer: 1 MiB O_DIRECT writes at 2 MiB/s, rewriting a 16 MiB file (no
   space consumed); the longest gap between two completions is the writer stall.
Writes "fill_done" to STOPFILE.state when the fill is over (ENOSPC included).
Prints one JSON object. Allocation only (no data) so the rates are not capped by
how fast the TCG guest moves bytes; ENOSPC shows at allocation as for writes."""
import errno
import json
import math
import mmap
import os
import sys
import threading
import time

mp, first_frac, end_bytes, rate, step = (sys.argv[1], float(sys.argv[2]), int(sys.argv[3]),
                                         float(sys.argv[4]), int(sys.argv[5]))
stopfile = sys.argv[6]
cross_pct = int(sys.argv[7]) if len(sys.argv) > 7 else 50
stop = threading.Event()
out = {"sizes": [], "samples": [], "stall": {}}


def st():
    s = os.statvfs(mp)
    return (s.f_blocks * s.f_frsize, (s.f_blocks - s.f_bfree) * s.f_frsize, s.f_bavail * s.f_frsize)


def sizes():
    last = None
    while not stop.is_set():
        size = st()[0]
        if size != last:
            out["sizes"].append([time.time(), size])
            last = size
        time.sleep(0.02)


def writer():
    ch = 1 << 20
    buf = mmap.mmap(-1, ch)
    buf.write(os.urandom(ch))
    fd = os.open(os.path.join(mp, ".stall-writer"), os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    n, prev, worst, worst_at, errs = 0, time.time(), 0.0, None, 0
    t0 = time.monotonic()
    while not stop.is_set():
        due = t0 + n * ch / (2 << 20)
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        try:
            os.pwrite(fd, buf, (n % 16) * ch)
        except OSError as e:
            errs += 1
            out["stall"]["error"] = errno.errorcode.get(e.errno, str(e.errno))
        now = time.time()
        if now - prev > worst:
            worst, worst_at = now - prev, now
        prev = now
        n += 1
    os.close(fd)
    out["stall"].update(max_gap_s=worst, at_rt=worst_at, writes=n, errors=errs)


ths = [threading.Thread(target=sizes, daemon=True), threading.Thread(target=writer, daemon=True)]
for t in ths:
    t.start()
time.sleep(1.0)
size0, used0, _ = st()
out.update(size0=size0, used0=used0)
fd = os.open(os.path.join(mp, "trace.fill"), os.O_WRONLY | os.O_CREAT, 0o644)
off, err = 0, None
first = max(0, int(first_frac * size0) - used0)
first -= first % 4096
# the jump, in 1 GiB fallocate calls as fast as they go, so the moment df's Use%
# (ceil(used / (used + avail))) first reaches CROSS_PCT is known to one call
t_a = time.time()
out["t_cross_rt"] = None
while err is None and off < first:
    n = min(1 << 30, first - off)
    try:
        os.posix_fallocate(fd, off, n)
        off += n
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
    _, u, av = st()
    if out["t_cross_rt"] is None and u + av and math.ceil(100 * u / (u + av)) >= cross_pct:
        out["t_cross_rt"] = time.time()
out["t_jump_end_rt"] = time.time()
out["first_s"] = out["t_jump_end_rt"] - t_a
if out["t_cross_rt"] is None:
    out["t_cross_rt"] = out["t_jump_end_rt"]
first = off
s = st()
out["samples"].append([out["t_jump_end_rt"]] + list(s))
t0 = time.monotonic()
n, slow = 0, 0.0
while err is None and st()[1] < end_bytes:
    due = t0 + n * step / rate
    d = due - time.monotonic()
    if d > 0:
        time.sleep(d)
    a = time.monotonic()
    try:
        os.posix_fallocate(fd, off, step)
        off += step
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
    slow = max(slow, time.monotonic() - a)
    out["samples"].append([time.time()] + list(st()))
    n += 1
el = time.monotonic() - t0
os.close(fd)
# the host polls this; beside STOPFILE (tmpfs), not on MP: after ENOSPC a full
# ext4 cannot take even these 10 bytes, and the trace would never say it is done
with open(stopfile + ".state", "w") as f:
    f.write("fill_done\n")
out.update(error=err, allocated=off, fill_s=el, achieved_bps=(off - first) / el if el > 0 else None,
           slowest_step_s=slow, t_end_rt=time.time())
while not os.path.exists(stopfile):
    time.sleep(0.2)
stop.set()
for t in ths:
    t.join()
out["size_end"], out["used_end"], _ = st()
print(json.dumps(out))
