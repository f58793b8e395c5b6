"""A member that arrives late at boot: `assemble --all` waits for it (bounded),
the pool is assembled and mounted without manual action, and
dmscale-assemble.service (which docker.service requires) ends active."""
import os
import threading
import time

from helpers import GIB, check_payload, expect_pending, nvme_by_serial, status, wait_members, write_payload


def _console(vm):
    logs = sorted(f for f in os.listdir(vm.workdir) if f.startswith("console."))
    if not logs:
        return ""
    with open(os.path.join(vm.workdir, logs[-1]), errors="replace") as f:
        return f.read()


def test_member_hotplugged_during_boot_completes_the_pool(make_vm):
    # The journal on the console: the test sees when assembly has scanned
    # and found the pool incomplete (the guest agent only starts after it).
    vm = make_vm(cmdline_extra="systemd.journald.forward_to_console=1")
    vm.start()
    d0, d1 = vm.new_disk(2 * GIB), vm.new_disk(2 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", nvme_by_serial(vm, d0.serial)], timeout=120)
    expect_pending(vm, d1.volume_id)
    vm.hotplug(d1)
    wait_members(vm, 2)
    write_payload(vm)
    vm.shutdown()

    # Boot with member 0 only; plug member 1 ~10 s after assembly found it missing.
    booted = {}

    def boot():
        try:
            booted["s"] = vm.start(cold_disks=[d0], boot_timeout=300)
        except Exception as e:   # reported by the main thread
            booted["e"] = e

    t = threading.Thread(target=boot)
    t.start()
    end = time.monotonic() + 240
    while time.monotonic() < end and t.is_alive():
        text = _console(vm)
        if "is incomplete: missing" in text:
            break
        time.sleep(0.5)
    assert "is incomplete: missing" in _console(vm), "assembly never reported the missing member:\n" + \
        vm.console_tail()
    time.sleep(10)
    vm.hotplug(d1)
    t.join(timeout=400)
    assert "e" not in booted, booted.get("e")
    assert not t.is_alive()

    vm.wait_for("findmnt /var/lib/docker", timeout=60)
    st = wait_members(vm, 2)
    assert sorted(m["volume_id"] for m in st["members"]) == sorted([d0.volume_id, d1.volume_id])
    assert check_payload(vm)
    _, out, _ = vm.run(["systemctl", "is-active", "dmscale-assemble.service"], check=False)
    assert out.strip() == "active", vm.sh("journalctl -b -u dmscale-assemble --no-pager | tail -30")
    log = vm.sh("journalctl -b -u dmscale-assemble --no-pager -o cat")
    assert "waiting up to 60 s" in log, log
