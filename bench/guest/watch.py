#!/usr/bin/python3
"""Guest side of an attach-latency trial (CLOCK_MONOTONIC throughout, the clock
of udevadm monitor and of systemd's unit timestamps).

t_node: the kernel's "add" uevent of the block device whose NVMe serial is
        SERIAL, as received by `udevadm monitor --kernel` (devtmpfs has created
        the node before the uevent is sent);
t_size: the first statvfs(MP) showing f_blocks*f_frsize >= old size + GROW bytes
        (polled every POLL_MS); skipped with --grow 0 (thin: the filesystem's
        size does not change).
Prints one JSON object. Creates READY once the monitor is listening."""
import json
import os
import subprocess
import sys
import time

serial, mp, grow, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 120
poll_s = float(os.environ.get("POLL_MS", "2")) / 1000


def fs_bytes():
    s = os.statvfs(mp)
    return s.f_blocks * s.f_frsize


size0 = fs_bytes()
mon = subprocess.Popen(["stdbuf", "-oL", "udevadm", "monitor", "--kernel", "--subsystem-match=block"],
                       stdout=subprocess.PIPE, text=True)
end = time.monotonic() + timeout
out = {"serial": serial, "mp": mp, "size0": size0, "rt_minus_mono": time.time() - time.monotonic()}
for line in mon.stdout:
    if line.startswith("KERNEL - "):
        open(ready, "w").close()
        continue
    if not line.startswith("KERNEL[") or " add " not in line:
        if time.monotonic() > end:
            break
        continue
    ts = float(line[7:line.index("]")])
    devpath = line.split()[2]
    name = devpath.rsplit("/", 1)[1]
    if not name.startswith("nvme") or "p" in name[4:]:
        continue
    try:
        with open(f"/sys/block/{name}/device/serial") as f:
            s = f.read().strip()
    except OSError:
        continue
    if s == serial:
        out.update(t_node=ts, dev=name)
        break
mon.kill()
mon.wait()
if "t_node" in out and grow > 0:
    want = size0 + grow
    while time.monotonic() < end:
        if fs_bytes() >= want:
            out["t_size"] = time.monotonic()
            break
        time.sleep(poll_s)
    out["size1"] = fs_bytes()
print(json.dumps(out))
