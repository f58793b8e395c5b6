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
