"""dm-thin with the daemon and the EC2 simulator: a fill past the first member
without ENOSPC; a fill faster than provisioning (10 s attach latency) stalls
instead of failing; deleted files return their blocks to the pool."""
import json
import threading
import time

from ec2bed import daemon_config
from helpers import GIB, MIB, check_payload, nvme_by_serial, record_result, status, wait_settled, write_payload

# 16 MiB chunks of real writes, each timed (guest clock); any failure is the exit status
TIMED_WRITER = """
i=0; rc=0; : > /root/{name}.lat
while [ $i -lt {chunks} ]; do
  t0=$(date +%s.%N)
  dd if=/dev/zero of=/var/lib/docker/{name} bs=1M count=16 oflag=append conv=notrunc,fsync status=none || {{ rc=$?; break; }}
  echo "$t0 $(date +%s.%N)" >> /root/{name}.lat
  i=$((i+1)); sleep {pause}
done
echo $rc > /root/{name}.rc
"""


def run_writer(vm, name, chunks, pause, timeout):
    vm.run(["systemd-run", f"--unit={name}", "/bin/sh", "-c",
            TIMED_WRITER.format(name=name, chunks=chunks, pause=pause)])
    vm.wait_for(f"test -e /root/{name}.rc", timeout=timeout, interval=1)
    rc = vm.sh(f"cat /root/{name}.rc").strip()
    lat = [float(b) - float(a) for a, b in (l.split() for l in vm.sh(f"cat /root/{name}.lat").splitlines())]
    return rc, lat


def pool(vm):
    return status(vm)["pool"]


def test_thin_daemon_fill_stall_reclaim(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    # the config first: init sets the pool's low water mark at the daemon's threshold
    vm.write_file("/etc/dmscale/dmscale.json",
                  daemon_config(min_free_bytes=256 * MIB, initial_volume_gib=1, min_volume_gib=1,
                                max_volume_gib=1, max_volumes=6, attach_timeout_s=240))
    d0 = vm.new_disk(1 * GIB)
    vm.hotplug(d0)
    vm.run(["dmscale", "init", "--target", "thin", nvme_by_serial(vm, d0.serial)], timeout=180)
    p = pool(vm)
    assert p["virtual_bytes"] == 16 * GIB                      # max_total_gib
    assert p["low_water_mark_bytes"] == 256 * MIB
    write_payload(vm, mib=32)
    vm.sh("dd if=/dev/zero of=/var/lib/docker/prefill bs=1M count=528 conv=fsync status=none")
    vm.run(["systemctl", "start", "dmscale-daemon.service"])
    vm.wait_for("journalctl -u dmscale-daemon -o cat | grep -q 'thin pool: provisioning follows'", timeout=30)

    # 1. a steady fill past the first member: the daemon keeps up
    p = pool(vm)
    free = p["data_total_bytes"] - p["data_used_bytes"]
    rc, lat1 = run_writer(vm, "steady", (free + 512 * MIB) // (16 * MIB), 0.2, timeout=240)
    assert rc == "0", "steady writer failed\n" + vm.sh("journalctl -b -o cat | tail -40")
    st = wait_settled(vm, 2)
    assert st["pool"]["mode"] == "rw"
    log = vm.sh("journalctl -u dmscale-daemon -o cat")
    assert "more space needed" in log

    # 2. faster than provisioning: the next volume's attachment is held back
    # until the pool has run out of data space; writes must queue, not fail
    gate = threading.Event()
    plug = sim.on_attach

    def held_attach(*args):
        gate.wait(300)
        return plug(*args)
    sim.on_attach = held_attach
    p = pool(vm)
    free = p["data_total_bytes"] - p["data_used_bytes"]
    n_before = len(status(vm)["members"])
    vm.run(["systemd-run", "--unit=burst", "/bin/sh", "-c",
            TIMED_WRITER.format(name="burst", chunks=(free + 256 * MIB) // (16 * MIB), pause=0)])
    end = time.monotonic() + 180
    while pool(vm)["mode"] != "out_of_data_space":
        assert time.monotonic() < end, "the pool never ran out of data space: " + json.dumps(pool(vm))
        assert not vm.sh("cat /root/burst.rc 2>/dev/null || true").strip(), "the writer ended early"
        time.sleep(0.5)
    t_out = time.monotonic()
    time.sleep(5)                                     # a stall the writer must survive
    assert not vm.sh("cat /root/burst.rc 2>/dev/null || true").strip(), "the writer failed while queued"
    gate.set()
    vm.wait_for("test -e /root/burst.rc", timeout=240, interval=1)
    rc = vm.sh("cat /root/burst.rc").strip()
    lat2 = [float(b) - float(a) for a, b in (l.split() for l in vm.sh("cat /root/burst.lat").splitlines())]
    assert rc == "0", "a writer saw an error instead of a stall\n" + vm.sh("journalctl -b -o cat | tail -60")
    st = wait_settled(vm, n_before + 1)
    assert st["pool"]["mode"] == "rw" and not st["pool"]["needs_check"]
    log = vm.sh("journalctl -u dmscale-daemon -o cat")
    assert "out of data space: writes are queued" in log and "thin pool back to rw" in log, log
    print(f"\n[thin] out of data space for {time.monotonic() - t_out:.1f} s (held), longest chunk "
          f"{max(lat2):.1f} s")
    record_result("thin_longest_write_stall_s", round(max(lat2), 2))
    record_result("thin_steady_longest_chunk_s", round(max(lat1), 2))

    # 3. reclaim: deleting data returns blocks to the pool (online discard)
    used_before = pool(vm)["data_used_bytes"]
    size = int(vm.sh("stat -c %s /var/lib/docker/burst")) + int(vm.sh("stat -c %s /var/lib/docker/steady"))
    vm.sh("rm /var/lib/docker/burst /var/lib/docker/steady && sync")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        used = pool(vm)["data_used_bytes"]
        if used_before - used >= 0.8 * size:
            break
        time.sleep(1)
    reclaimed = used_before - used
    record_result("thin_reclaimed_fraction", round(reclaimed / max(1, size), 3))
    assert reclaimed >= 0.8 * size, (used_before, used, size)

    assert check_payload(vm)
    # the simulator agrees with the pool; nothing leaked, no protocol violations
    # (the pool as it is now: the burst's fill rate may have bought one more)
    st = wait_settled(vm, len(st["members"]))
    assert sim.violations == []
    with sim.lock:
        live = {v for v in sim.volumes if v != "vol-0root000000000000"}
    members = {m["volume_id"] for m in st["members"]} - {d0.volume_id}
    assert live == members, (live, members)
    assert vm.sh("systemctl is-active dmscale-daemon").strip() == "active"
    print(f"\n[thin] longest chunk: steady {max(lat1):.2f} s, burst {max(lat2):.2f} s; "
          f"reclaimed {reclaimed >> 20} MiB of {size >> 20} MiB deleted; members {len(st['members'])}")
