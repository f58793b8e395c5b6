"""Shared helpers for dmscale VM tests."""
import json
import time

GIB = 1 << 30
MIB = 1 << 20


def nvme_by_serial(vm, serial, timeout=15):
    return vm.wait_for(
        f'for c in /sys/class/nvme/nvme*; do '
        f'  [ "$(tr -d " " < $c/serial)" = "{serial}" ] || continue; '
        f'  for n in $c/nvme*n1; do [ -b /dev/${{n##*/}} ] && echo /dev/${{n##*/}} && exit 0; done; '
        f'done; exit 1', timeout=timeout).strip()


def status(vm, name="scratch"):
    _, out, _ = vm.run(["dmscale", "status", "--json", "--name", name])
    return json.loads(out)


def write_payload(vm, mp="/var/lib/docker", mib=32):
    vm.sh(f"head -c {mib}M /dev/urandom > {mp}/payload; sha256sum {mp}/payload > /root/payload.sum; sync")


def check_payload(vm):
    return "OK" in vm.sh("sha256sum -c /root/payload.sum")


def mount_id(vm, mp="/var/lib/docker"):
    """The kernel's mount id: unchanged as long as nothing unmounted."""
    return vm.sh(f"awk '$5 == \"{mp}\" {{print $1}}' /proc/self/mountinfo").strip()


def expect_pending(vm, volume_id, name="scratch"):
    vm.sh(f"mkdir -p /var/lib/dmscale/{name}; echo {volume_id} >> /var/lib/dmscale/{name}/pending")


def wait_members(vm, n, name="scratch", timeout=60):
    end = time.monotonic() + timeout
    while True:
        busy = vm.sh("systemctl list-units 'dmscale-attach@*' --all --state=activating,deactivating "
                     "--no-legend --plain")
        st = status(vm, name)
        if len(st["members"]) == n and st["state"] == "active" and not busy.strip() and \
                st["filesystem"]["size_bytes"] > 0 and not st["pending"]:
            return st
        if time.monotonic() > end:
            raise AssertionError(f"pool did not reach {n} members: {st}\n" +
                                 vm.sh("journalctl -b -u 'dmscale*' --no-pager | tail -50"))
        time.sleep(0.3)


def attach_latencies(vm):
    """Seconds from systemd starting dmscale-attach@DEV (udev saw the device
    node) to dmscale logging the grown filesystem, per device, from the
    journal's monotonic timestamps. Reported, never asserted (timings are noisy)."""
    out = vm.sh("journalctl -b --no-pager -o short-monotonic "
                "| grep -E 'Starting dmscale-attach@|grown online|labelled as member' || true")
    starts, lat, current = {}, [], None
    for line in out.splitlines():
        try:
            ts = float(line.split("]", 1)[0].strip("[ "))
        except ValueError:
            continue
        if "Starting dmscale-attach@" in line:
            dev = line.split("dmscale-attach@", 1)[1].split(".service", 1)[0]
            starts[dev] = ts
        elif "labelled as member" in line:
            current = line.split("/dev/", 1)[1].split(" ", 1)[0] if "/dev/" in line else None
        elif "grown online" in line and current in starts:
            lat.append(round(ts - starts.pop(current), 3))
            current = None
    return lat


def record_result(name, value):
    """Append a measured figure to build/vm-results.json (for notes and benchmarks)."""
    import os
    path = os.path.join(os.environ.get("DMSCALE_BUILD", os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")),
        "vm-results.json")
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    data[name] = value
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
