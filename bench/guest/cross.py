#!/usr/bin/python3
"""Take free space of MP below FREE_AFTER bytes at once (posix_fallocate of a new
file) and print the guest CLOCK_REALTIME right after: the threshold crossing."""
import json
import os
import sys
import time

mp, free_after, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = os.statvfs(mp)
free = s.f_bavail * s.f_frsize
n = max(0, free - free_after)
n -= n % 4096
t_a = time.time()
fd = os.open(os.path.join(mp, name), os.O_WRONLY | os.O_CREAT, 0o644)
if n:
    os.posix_fallocate(fd, 0, n)
os.close(fd)
t_b = time.time()
s = os.statvfs(mp)
print(json.dumps({"t_before_rt": t_a, "t_cross_rt": t_b, "allocated": n,
                  "free_after": s.f_bavail * s.f_frsize, "total": s.f_blocks * s.f_frsize}))
