#!/usr/bin/python3
"""Steady writer for the fill race: TOTAL bytes at RATE bytes/s into FILE, each
step sent at its scheduled time (late steps go at once). MODE "data": 1 MiB
O_DIRECT writes (what a thin pool needs: real blocks); MODE "alloc": 4 MiB
posix_fallocate steps (consumes filesystem space at rates the TCG guest could
not write). Stops at the first error, or when it falls STALL_S behind schedule.
Prints JSON: bytes, error, elapsed, achieved rate, worst lateness, slowest step."""
import errno
import json
import mmap
import os
import sys
import time

path, total, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stall_s = float(sys.argv[4]) if len(sys.argv) > 4 else 15.0
mode = sys.argv[5] if len(sys.argv) > 5 else "data"
CH = (1 << 20) if mode == "data" else (4 << 20)
buf = mmap.mmap(-1, CH)
buf.write(os.urandom(4096) * (CH // 4096))
fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_DIRECT if mode == "data" else 0), 0o644)
t0 = time.monotonic()
done, err, worst, n, slow = 0, None, 0.0, 0, 0.0
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
    t = time.monotonic()
    try:
        if mode == "data":
            w = os.write(fd, buf)
        else:
            os.posix_fallocate(fd, done, CH)
            w = CH
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    slow = max(slow, time.monotonic() - t)
    done += w
    n += 1
el = time.monotonic() - t0
os.close(fd)
print(json.dumps({"bytes": done, "error": err, "elapsed_s": el,
                  "achieved_bps": done / el if el > 0 else 0, "worst_late_s": worst, "slowest_step_s": slow, "mode": mode,
                  "t0_mono": t0, "rt_minus_mono": time.time() - time.monotonic()}))
