#!/usr/bin/env python3
"""The demo: boot the guest, `dmscale init` a 2 GiB EBS-like NVMe volume at
/var/lib/docker, fill it with a writer, and watch it grow as new volumes are
hot-plugged and appended by the shipped udev rule (the harness plays EC2 here:
when free space falls under 40 % it records a volume as pending, as the daemon
does, and attaches it)."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm as vmlib  # noqa: E402
from helpers import GIB, nvme_by_serial, status  # noqa: E402


def show(st):
    fs = st["filesystem"]
    print(f"  pool {st['name']}: {st['state']}, {len(st['members'])} member(s), "
          f"fs {fs['size_bytes'] / GIB:.2f} GiB, used {fs['used_bytes'] / GIB:.2f} GiB, "
          f"free {fs['free_bytes'] / GIB:.2f} GiB, pending {st['pending']}", flush=True)


def main():
    img = os.path.join(vmlib.VMDIR, "demo.img")   # never the image a test run is using
    print("demo: building the guest image with this checkout installed", flush=True)
    vmlib.build_installed_image(img)
    work = tempfile.mkdtemp(prefix="dmscale-demo-")
    v = vmlib.VM(work, img)
    try:
        print(f"demo: booting Debian 12 (cloud kernel) under QEMU: {v.start():.1f}s", flush=True)
        d0 = v.new_disk(2 * GIB)
        v.hotplug(d0)
        dev = nvme_by_serial(v, d0.serial)
        print(f"demo: EBS volume {d0.volume_id} is {dev}; dmscale init {dev}", flush=True)
        _, _, err = v.run(["dmscale", "init", dev])
        print("".join("    " + l + "\n" for l in err.splitlines()), end="")
        show(status(v))
        target_gib = 6
        print(f"demo: writing {target_gib} GiB into /var/lib/docker (3x the first volume)", flush=True)
        v.sh(f"setsid -f sh -c 'dd if=/dev/zero of=/var/lib/docker/fill bs=4M count={target_gib * 256} "
             "conv=fsync 2>/run/fill.err; echo $? > /run/fill.rc' >/dev/null 2>&1")
        t0 = time.monotonic()
        while True:
            st = status(v)
            fs = st["filesystem"]
            done = v.run(["cat", "/run/fill.rc"], check=False)
            if done[0] == 0:
                break
            if fs["free_bytes"] < 0.4 * fs["size_bytes"] and not st["pending"]:
                d = v.new_disk(2 * GIB)
                print(f"demo: free space low -> provisioning {d.volume_id} (2 GiB)", flush=True)
                v.sh(f"mkdir -p /var/lib/dmscale/scratch; echo {d.volume_id} >> /var/lib/dmscale/scratch/pending")
                v.hotplug(d)
            show(st)
            if time.monotonic() - t0 > 900:
                raise SystemExit("demo: the fill did not finish in 15 minutes")
            time.sleep(2)
        rc = int(done[1].strip() or 1)
        print(f"demo: writer finished with exit status {rc} "
              f"({'no ENOSPC' if rc == 0 else v.sh('cat /run/fill.err')})", flush=True)
        print("demo: final status:", flush=True)
        print(v.sh("dmscale status"))
        print("demo: journal of dmscale:", flush=True)
        print(v.sh("journalctl -b --no-pager -o cat _COMM=dmscale | tail -30"))
        return 0 if rc == 0 else 1
    finally:
        v.kill()


if __name__ == "__main__":
    sys.exit(main())
