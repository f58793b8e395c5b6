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

    # Boot with member 0 only; plug member 1 ~10 s after assembly reported it
    # missing. QEMU must be started by this (main) thread: it dies with the
    # thread that spawned it (PDEATHSIG), so the plugging runs in a helper.
    plugged = {}

    def plug_late():
        try:
            end = time.monotonic() + 240
            while time.monotonic() < end and "is incomplete: missing" not in _console(vm):
                time.sleep(0.5)
            if "is incomplete: missing" not in _console(vm):
                plugged["e"] = "assembly never reported the missing member:\n" + vm.console_tail()
                return
            time.sleep(10)
            vm.hotplug(d1)
            plugged["ok"] = True
        except Exception as e:   # reported by the main thread
            plugged["e"] = repr(e)

    t = threading.Thread(target=plug_late)
    t.start()
    vm.start(cold_disks=[d0], boot_timeout=300)
    t.join(timeout=30)
    assert plugged.get("ok"), plugged.get("e")

    vm.wait_for("findmnt /var/lib/docker", timeout=60)
    st = wait_members(vm, 2)
    assert sorted(m["volume_id"] for m in st["members"]) == sorted([d0.volume_id, d1.volume_id])
    assert check_payload(vm)
    _, out, _ = vm.run(["systemctl", "is-active", "dmscale-assemble.service"], check=False)
    assert out.strip() == "active", vm.sh("journalctl -b -u dmscale-assemble --no-pager | tail -30")
    log = vm.sh("journalctl -b -u dmscale-assemble --no-pager -o cat")
    assert "waiting up to 60 s" in log, log
