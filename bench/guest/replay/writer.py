#!/usr/bin/python3
"""The replay check's writer (bench/replay_check.py): follows a trace's used-bytes
curve on a mounted pool with posix_fallocate (growth) and truncate/unlink
(shrinking), every TICK_S, in files of at most 1 GiB under MP/replay.

    writer.py MP TRACE [TICK_S]

TRACE: "time_s used_bytes" lines ('#' comments), linear in between (as
bench/sim/trace.c reads it). The writer holds the trace's used bytes at each
tick; when posix_fallocate fails with ENOSPC it holds what it got and tries
again at the next tick: one ENOSPC event is one stretch of ticks that ended
short. A thread records every change of the filesystem size (statvfs, 50 ms).
Prints one JSON object: per tick [t, trace bytes, held bytes, fs size, fs free]
(t in s from the start, guest CLOCK_MONOTONIC), the size changes, the ENOSPC
events, t0 on CLOCK_REALTIME (to map the simulator's clock), and any other error.
Allocation only, no data: the rates are not capped by the TCG guest's I/O."""
import bisect
import errno
import json
import os
import sys
import threading
import time

mp, trace_path = sys.argv[1], sys.argv[2]
tick = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
FILE_MAX = 1 << 30
STEP_MAX = 256 << 20          # one fallocate call at most (a shortfall keeps what it got)

ts, us = [], []
with open(trace_path) as fh:
    for line in fh:
        if line.startswith("#") or not line.strip():
            continue
        a, b = line.split()
        ts.append(float(a))
        us.append(float(b))


def used_at(t):
    if t <= ts[0]:
        return us[0]
    if t >= ts[-1]:
        return us[-1]
    i = bisect.bisect_right(ts, t)
    a = (t - ts[i - 1]) / (ts[i] - ts[i - 1])
    return us[i - 1] + a * (us[i] - us[i - 1])


d = os.path.join(mp, "replay")
os.makedirs(d, exist_ok=True)
files = []                    # [path, bytes]
stop = threading.Event()
sizes = []


def statvfs():
    s = os.statvfs(mp)
    return s.f_blocks * s.f_frsize, s.f_bavail * s.f_frsize


def watch_size():
    last = None
    while not stop.is_set():
        size = statvfs()[0]
        if size != last:
            sizes.append([round(time.monotonic() - t0, 3), size])
            last = size
        time.sleep(0.05)


def held():
    return sum(f[1] for f in files)


def grow(need):
    """Allocate `need` more bytes; returns None or the errno name of the failure."""
    while need > 0:
        if not files or files[-1][1] >= FILE_MAX:
            files.append([os.path.join(d, f"f{len(files):04d}"), 0])
        path, have = files[-1]
        step = min(need, FILE_MAX - have, STEP_MAX)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, have, step)
            err = None
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
        files[-1][1] = os.fstat(fd).st_size      # what it got, even after a failure
        os.close(fd)
        need -= files[-1][1] - have
        if err:
            return err
    return None


def shrink(excess):
    while excess > 0 and files:
        path, have = files[-1]
        if have <= excess:
            os.unlink(path)
            files.pop()
            excess -= have
        else:
            os.truncate(path, have - excess)
            files[-1][1] = have - excess
            excess = 0


t0 = time.monotonic()
t0_rt = time.time()
th = threading.Thread(target=watch_size)
th.start()
rows, events, errors = [], [], {}
short, worst_late, k = False, 0.0, 0
end = ts[-1]
while True:
    due = t0 + k * tick
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    else:
        worst_late = max(worst_late, now - due)
    t = time.monotonic() - t0
    target = int(used_at(t))
    h = held()
    err = None
    if target > h:
        err = grow(target - h)
    elif target < h:
        shrink(h - target)
    h = held()
    if err and err != "ENOSPC":
        errors[err] = errors.get(err, 0) + 1
    now_short = err == "ENOSPC"
    if now_short and not short:
        events.append([round(t, 3), None])
    if short and not now_short:
        events[-1][1] = round(t, 3)
    short = now_short
    size, free = statvfs()
    rows.append([round(t, 3), target, h, size, free])
    if t >= end:
        break
    k = max(k + 1, int((time.monotonic() - t0) / tick))
stop.set()
th.join()
print(json.dumps({"t0_rt": t0_rt, "tick_s": tick, "trace_end_s": end, "rows": rows, "sizes": sizes,
                  "enospc": events, "errors": errors, "worst_late_s": worst_late, "files": len(files)}))
