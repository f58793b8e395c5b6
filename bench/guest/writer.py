#!/usr/bin/python3
"""Steady O_DIRECT writer for the fill race: TOTAL bytes at RATE bytes/s into
FILE in 1 MiB writes, each sent at its scheduled time (late writes go at once).
Stops at the first error, or when it falls STALL_S behind schedule.
Prints JSON: bytes written, error, elapsed, achieved rate, worst lateness."""
import errno
import json
import mmap
import os
import sys
import time

path, total, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stall_s = float(sys.argv[4]) if len(sys.argv) > 4 else 15.0
CH = 1 << 20
buf = mmap.mmap(-1, CH)
buf.write(os.urandom(4096) * (CH // 4096))
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
t0 = time.monotonic()
done, err, worst, n = 0, None, 0.0, 0
while done < total:
    due = t0 + n * CH / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    else:
        worst = max(worst, now - due)
        if now - due > stall_s:
            err = "stalled"
            break
    try:
        w = os.write(fd, buf)
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    done += w
    n += 1
el = time.monotonic() - t0
os.close(fd)
print(json.dumps({"bytes": done, "error": err, "elapsed_s": el,
                  "achieved_bps": done / el if el > 0 else 0, "worst_late_s": worst,
                  "t0_mono": t0, "rt_minus_mono": time.time() - time.monotonic()}))
