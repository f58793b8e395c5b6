#!/usr/bin/env python3
"""The demo: Docker on a dmscale pool that grows under it. Boot the guest,
`dmscale init` a 16 GiB EBS-like NVMe volume at /var/lib/docker, start
`dmscale daemon` against the EC2/IMDS simulator, start docker (its data on the
pool), import a one-binary image, and run four containers that fill 40 GiB
while the daemon creates and attaches volumes and the udev rule appends them.
No container sees ENOSPC; the scenario is tests/vm/test_docker.py's."""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm as vmlib  # noqa: E402
from ec2bed import Bed  # noqa: E402
from helpers import (GIB, MIB, docker_run_fillers, docker_start, docker_states, docker_tiny_image,  # noqa: E402
                     docker_verify_results, host_allocated_bytes, journal_enospc, nvme_by_serial, status)
from test_docker import (CONTAINERS, FIRST_GIB, MIN_FREE, PAUSE_S, REAL_KIB, STEP_MIB, STEPS,  # noqa: E402
                         VOLUME_GIB, settle, story_config)


def say(msg):
    print(f"demo: {msg}", flush=True)


def indent(text):
    return "".join("    " + line + "\n" for line in text.rstrip("\n").splitlines())


def show(t, st):
    fs = st["filesystem"]
    d = st.get("daemon") or {}
    print(f"  [{t:5.0f} s] {len(st['members'])} member(s), fs {fs['size_bytes'] / GIB:5.1f} GiB, "
          f"used {fs['used_bytes'] / GIB:5.1f} GiB, free {fs['free_bytes'] / GIB:5.1f} GiB, "
          f"pending {','.join(st['pending']) or '-'}; daemon: {d.get('last_result') or '-'}", flush=True)


class JournalTail:
    """New lines of the dmscale units' journal since the last call."""

    def __init__(self, vm):
        self.vm, self.seen = vm, 0

    def new(self):
        out = self.vm.sh("journalctl -b --no-pager -o short -u dmscale-daemon -u 'dmscale-attach@*' "
                         "| grep -v -e 'Deactivated successfully' -e 'Consumed .* CPU time' || true")
        lines = out.splitlines()
        fresh, self.seen = lines[self.seen:], len(lines)
        return fresh


def main():
    img = os.path.join(vmlib.VMDIR, "demo.img")   # never the image a test run is using
    say("building the guest image with this checkout installed")
    vmlib.build_installed_image(img)
    work = tempfile.mkdtemp(prefix="dmscale-demo-")
    # the guest has docker.io but no apparmor_parser: run without AppArmor
    bed = Bed(lambda **kw: vmlib.VM(work, img, mem_mib=2048, cmdline_extra="apparmor=0", timeout_s=1800, **kw))
    v, sim = bed.vm, bed.sim
    try:
        t0 = time.monotonic()
        bed.start()
        say(f"Debian 12 (cloud kernel) booted under QEMU in {time.monotonic() - t0:.1f}s; "
            "EC2 + IMDS simulator on 127.0.0.1; docker.io installed, not started")
        d0 = v.new_disk(FIRST_GIB * GIB)
        v.hotplug(d0)
        dev = nvme_by_serial(v, d0.serial)
        say(f"EBS volume {d0.volume_id} ({FIRST_GIB} GiB) is {dev}; running: dmscale init {dev}")
        _, _, err = v.run(["dmscale", "init", dev], timeout=120)
        print(indent(err), end="")
        say("dmscale status\n" + indent(v.sh("dmscale status")))

        v.write_file("/etc/dmscale/dmscale.json", story_config())
        v.run(["systemctl", "start", "dmscale-daemon.service"])
        say(f"dmscale daemon started: keeps {MIN_FREE // GIB} GiB free by adding {VOLUME_GIB} GiB volumes")
        journal = JournalTail(v)

        t0 = time.monotonic()
        info = docker_start(v)
        src = v.sh("findmnt -n -o SOURCE -T /var/lib/docker/overlay2").strip()
        say(f"docker {info['ServerVersion']} started in {time.monotonic() - t0:.0f}s (after the pool, as "
            f"dmscale-assemble.service orders it at boot): Docker Root Dir {info['DockerRootDir']}, "
            f"storage driver {info['Driver']} on {src}")
        size = docker_tiny_image(v)
        say(f"image tiny:1 = /bin/busybox (busybox-static) packed in the guest, `docker import`ed "
            f"({size / MIB:.1f} MB, nothing pulled)")

        total = CONTAINERS * STEPS * STEP_MIB * MIB
        say(f"{CONTAINERS} containers each fallocate {STEPS} x {STEP_MIB} MiB in their writable layer "
            f"(one step every {PAUSE_S} s + its own time) and write {STEPS * REAL_KIB // 1024} MiB of "
            f"checksummed random data to a docker volume: {total / GIB:.0f} GiB in all, "
            f"{total / (FIRST_GIB * GIB):.1f}x the first volume")
        names = docker_run_fillers(v, CONTAINERS, STEPS, STEP_MIB, REAL_KIB, PAUSE_S)
        t0 = time.monotonic()
        members = 1
        while True:
            st = status(v)
            show(time.monotonic() - t0, st)
            for line in journal.new():
                print("    journal: " + line, flush=True)
            if len(st["members"]) != members:
                members = len(st["members"])
                say("dmscale status\n" + indent(v.sh("dmscale status")))
            if v.run(["test", "-e", "/root/fillers.wait"], check=False)[0] == 0:
                break
            if time.monotonic() - t0 > 900:
                raise SystemExit("demo: the containers did not finish in 15 minutes")
            time.sleep(3)
        states = docker_states(v, names)
        ok = all(s == ("exited", 0) for s in states.values())
        say("containers: " + ", ".join(f"{n} exit {rc}" for n, (_, rc) in states.items()) +
            (" (no ENOSPC)" if ok else " (FAILED)"))
        st = settle(v)
        for line in journal.new():
            print("    journal: " + line, flush=True)
        logs = v.sh("for n in " + " ".join(names) + "; do docker logs $n 2>&1 | tail -2; done")
        say("container logs (last lines)\n" + indent(logs))
        good, out = docker_verify_results(v, names)
        ok &= good
        say("page cache dropped, real data re-read from the pool in a fresh container:\n" + indent(out))
        say("docker system df\n" + indent(v.sh("docker system df")))
        enospc = journal_enospc(v)
        say(f"'No space left on device' in the whole journal: {len(enospc)} line(s); "
            f"docker is {v.sh('systemctl is-active docker.service').strip()}")
        ok &= not enospc
        say("EC2 calls seen by the simulator: " +
            ", ".join(a for a, _ in sim.calls if a not in ("DescribeVolumes",)))
        alloc, apparent = host_allocated_bytes(v)
        say(f"host: the {len(v.disks)} volumes' sparse files hold {alloc / MIB:.0f} MiB of "
            f"{apparent / GIB:.0f} GiB; the filesystem has {st['filesystem']['used_bytes'] / GIB:.1f} GiB in use")
        say("final status\n" + indent(v.sh("dmscale status")))
        return 0 if ok else 1
    finally:
        v.kill()
        bed.stop()
        shutil.rmtree(work, ignore_errors=True)   # the volumes' sparse files


if __name__ == "__main__":
    sys.exit(main())
