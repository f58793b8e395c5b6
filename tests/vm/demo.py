#!/usr/bin/env python3
"""The demo: boot the guest, `dmscale init` a 2 GiB EBS-like NVMe volume at
/var/lib/docker, start `dmscale daemon` against the EC2/IMDS simulator, fill the
filesystem with a steady writer, and watch the daemon create, attach and the
udev rule append volumes while the writer never sees ENOSPC."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm as vmlib  # noqa: E402
from ec2bed import Bed, daemon_config  # noqa: E402
from helpers import GIB, MIB, nvme_by_serial, status  # noqa: E402

WRITER = """
i=0; rc=0
while [ $i -lt {chunks} ]; do
  dd if=/dev/zero of=/var/lib/docker/fill bs=1M count=32 oflag=append conv=notrunc status=none || {{ rc=$?; break; }}
  i=$((i+1))
done
sync -f /var/lib/docker/fill || rc=$?
echo $rc > /root/fill.rc
"""


def show(st):
    fs = st["filesystem"]
    d = st.get("daemon") or {}
    print(f"  {len(st['members'])} member(s), fs {fs['size_bytes'] / GIB:5.2f} GiB, "
          f"used {fs['used_bytes'] / GIB:5.2f} GiB, free {fs['free_bytes'] / GIB:5.2f} GiB, "
          f"pending {st['pending'] or '-'}, daemon: {d.get('last_result', '-')}", flush=True)


def main():
    img = os.path.join(vmlib.VMDIR, "demo.img")   # never the image a test run is using
    print("demo: building the guest image with this checkout installed", flush=True)
    vmlib.build_installed_image(img)
    work = tempfile.mkdtemp(prefix="dmscale-demo-")
    bed = Bed(lambda **kw: vmlib.VM(work, img, **kw))
    v, sim = bed.vm, bed.sim
    try:
        t0 = time.monotonic()
        bed.start()
        print(f"demo: Debian 12 (cloud kernel) booted under QEMU in {time.monotonic() - t0:.1f}s; "
              "EC2 + IMDS simulator on 127.0.0.1", flush=True)
        d0 = v.new_disk(2 * GIB)
        v.hotplug(d0)
        dev = nvme_by_serial(v, d0.serial)
        print(f"demo: EBS volume {d0.volume_id} is {dev}; running: dmscale init {dev}", flush=True)
        _, _, err = v.run(["dmscale", "init", dev], timeout=120)
        print("".join("    " + line + "\n" for line in err.splitlines()), end="")
        v.write_file("/etc/dmscale/dmscale.json",
                     daemon_config(min_free_bytes=768 * MIB, initial_volume_gib=2, max_volume_gib=2,
                                   max_volumes=5, max_total_gib=12))
        v.run(["systemctl", "start", "dmscale-daemon.service"])
        print("demo: dmscale daemon started (provisions below 768 MiB free)", flush=True)
        target = 6 * GIB
        print(f"demo: writing {target // GIB} GiB into /var/lib/docker (3x the first volume)", flush=True)
        v.run(["systemd-run", "--unit=fill", "/bin/sh", "-c", WRITER.format(chunks=target // (32 * MIB))])
        t0 = time.monotonic()
        while v.run(["test", "-e", "/root/fill.rc"], check=False)[0] != 0:
            show(status(v))
            if time.monotonic() - t0 > 1200:
                raise SystemExit("demo: the fill did not finish in 20 minutes")
            time.sleep(3)
        rc = int(v.sh("cat /root/fill.rc").strip() or 1)
        print(f"demo: writer finished with exit status {rc} ({'no ENOSPC' if rc == 0 else 'FAILED'})")
        print("demo: EC2 calls seen by the simulator:",
              ", ".join(f"{a}" for a, _ in sim.calls if a not in ("DescribeVolumes",)), flush=True)
        print("demo: final status:\n" + v.sh("dmscale status"))
        print("demo: what dmscale logged:\n" + v.sh("journalctl -b --no-pager -o cat _COMM=dmscale | tail -40"))
        return 0 if rc == 0 else 1
    finally:
        v.kill()
        bed.stop()


if __name__ == "__main__":
    sys.exit(main())
