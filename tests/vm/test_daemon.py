"""`dmscale daemon` in the VM against the EC2/IMDS simulator (tests/vm/ec2sim.py),
wired to the VM by tests/vm/ec2bed.py (see there for the guestfwd details)."""
import json
import re
import time

from ec2bed import EC2_URL, IMDS_IP, daemon_config
from helpers import GIB, MIB, nvme_by_serial, status, wait_dot_set, wait_settled

def init_pool(vm, size=2 * GIB):
    d = vm.new_disk(size)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    vm.run(["dmscale", "init", dev], timeout=120)
    return d


GUEST_IMDS_PROBE = r"""
import json, sys, urllib.request
b = sys.argv[1]
tok = urllib.request.urlopen(urllib.request.Request(b + "/latest/api/token", method="PUT",
      headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=10).read().decode()
iid = urllib.request.urlopen(urllib.request.Request(b + "/latest/meta-data/instance-id",
      headers={"X-aws-ec2-metadata-token": tok}), timeout=10).read().decode()
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[2] + "/", data=b"Action=x"), timeout=10)
    ec2 = 200
except urllib.error.HTTPError as e:
    ec2 = e.code
print(json.dumps({"instance_id": iid, "ec2_status": ec2}))
"""


def test_guestfwd_reaches_simulator(bed):
    b = bed()
    b.start()
    _, out, _ = b.vm.run(["python3", "-c", GUEST_IMDS_PROBE, f"http://{IMDS_IP}", EC2_URL],
                         timeout=30)
    r = json.loads(out)
    assert r["instance_id"] == b.sim.instance_id
    assert r["ec2_status"] == 401          # reached the EC2 endpoint, refused: unsigned
    assert ("PUT", "/latest/api/token") in b.sim.imds_calls
    b.sim.violations.clear()                # the unsigned probe is an expected violation


def record_call_times(sim):
    """(host monotonic time, action) of every signed EC2 request that reached the action layer."""
    times = []
    orig = sim._faults

    def faults(action):
        times.append((time.monotonic(), action))
        return orig(action)
    sim._faults = faults
    return times


def sim_volume_ids(sim):
    with sim.lock:
        return set(sim.volumes), set(sim.deleted)


# steady writer: 16 MiB chunks of real writes (ext4 reserves blocks at write(),
# so ENOSPC shows here); any failure is the exit status
WRITER = """
i=0; rc=0
while [ $i -lt {chunks} ]; do
  dd if=/dev/zero of=/var/lib/docker/fill bs=1M count=16 oflag=append conv=notrunc status=none || {{ rc=$?; break; }}
  i=$((i+1)); sleep {pause}
done
sync -f /var/lib/docker/fill || rc=$?
echo $rc > /root/fill.rc
"""


# what moves while the writer works: the file's size, then its dirty pages draining
FILL_PROGRESS = "stat -c %s /var/lib/docker/fill; grep -E '^(Dirty|Writeback):' /proc/meminfo"


def test_daemon_grows_pool_end_to_end(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    times = record_call_times(sim)
    b.start()
    d0 = init_pool(vm, 1 * GIB)
    size0 = status(vm)["filesystem"]["size_bytes"]
    # TCG writes slowly: take most of the space at once (below the threshold,
    # before the daemon starts), then write past what the filesystem holds
    vm.run(["fallocate", "-l", str(600 * MIB), "/var/lib/docker/prefill"])
    free0 = status(vm)["filesystem"]["free_bytes"]
    vm.write_file("/etc/dmscale/dmscale.json", daemon_config(min_free_bytes=256 * MIB))
    # The daemon and dmscale-attach@ race for an arriving volume (whichever takes
    # the pool lock second finds it in the live table: a no-op; both run the same
    # append). With the unit masked, this test's appends are the daemon's own,
    # every time; the other daemon tests run with both paths live.
    vm.run(["systemctl", "mask", "--runtime", "dmscale-attach@.service"])
    vm.run(["systemctl", "start", "dmscale-daemon.service"])
    vm.wait_for("journalctl -u dmscale-daemon -o cat | grep -q 'EC2: instance'", timeout=20)
    log = vm.sh("journalctl -u dmscale-daemon -o cat")
    assert "watching /var/lib/docker" in log and "EC2 client ready" not in log  # ready at once
    assert "CreateVolume" not in [a for a, _ in sim.calls]
    chunks = (free0 + 256 * MIB) // (16 * MIB)
    t_write = time.monotonic()
    vm.run(["systemd-run", "--unit=fill", "/bin/sh", "-c", WRITER.format(chunks=chunks, pause=0.1)])
    vm.wait_while_progressing("test -e /root/fill.rc", FILL_PROGRESS, stall=60)
    assert vm.sh("cat /root/fill.rc").strip() == "0", "the writer failed (ENOSPC?)\n" + \
        vm.sh("journalctl -b -u 'dmscale*' --no-pager -o cat | tail -40")
    st = wait_settled(vm, 2, timeout=30)
    assert st["filesystem"]["size_bytes"] > size0 + 900 * MIB
    assert int(vm.sh("stat -c %s /var/lib/docker/fill")) == chunks * 16 * MIB

    assert wait_dot_set(sim) == {}
    acts = [a for a, _ in sim.calls]
    i_c = acts.index("CreateVolume")
    i_a = acts.index("AttachVolume", i_c)
    assert "ModifyInstanceAttribute" in acts[i_a:]
    assert sim.violations == []
    live, deleted = sim_volume_ids(sim)
    created = {v for v in live if v != "vol-0root000000000000"}
    members = {m["volume_id"] for m in st["members"]} - {d0.volume_id}
    assert created == members and not deleted, (created, members, deleted)
    with sim.lock:
        for vid in created:
            v = sim.volumes[vid]
            assert v.attachment and v.attachment["state"] == "attached" and v.attachment["dot"] is True
            assert v.tags["dmscale:pool"] == "scratch" and v.tags["dmscale:instance"] == sim.instance_id
            assert v.tags["team"] == "ci" and v.type == "gp3"
        dots = [m["dot"] for d, m in sim.bdm.items() if d.startswith("/dev/xvdb")]
    assert dots and all(dots)
    assert sim.terminate_instance() == {}, "volumes would leak on termination"
    assert vm.sh("systemctl is-active dmscale-daemon").strip() == "active"

    log = vm.sh("journalctl -u dmscale-daemon -o cat")
    t_create = next(t for t, a in times if a == "CreateVolume")
    react = [float(x) for x in re.findall(r"([\d.]+) s after the condition arose", log)]
    lat = [float(x) for x in re.findall(r"appended, .*latency ([\d.]+) s", log)]
    print(f"\n[daemon] writer start -> first CreateVolume {t_create - t_write:.2f} s; "
          f"condition -> provisioning {react} s; CreateVolume -> fs grown {lat} s; "
          f"{len(sim.calls)} API calls for {len(created)} volume(s)")
    pid = vm.sh("systemctl show -p MainPID --value dmscale-daemon").strip()
    rss = vm.sh(f"awk '/^VmRSS/ {{print $2}}' /proc/{pid}/status").strip()
    cpu = [int(vm.sh("systemctl show -p CPUUsageNSec --value dmscale-daemon"))]
    time.sleep(5)
    cpu.append(int(vm.sh("systemctl show -p CPUUsageNSec --value dmscale-daemon")))
    print(f"[daemon] RSS {rss} kB; CPU {cpu[0] / 1e9:.2f} s in total, idle {(cpu[1] - cpu[0]) / 5e7:.2f} % "
          f"(TCG guest, 4 polls/s)")
    assert lat, log
    # issue 14: the daemon appended its volumes itself (no unit, no process),
    # through the same code as dmscale-attach@ (its step line)
    assert "appending it in the daemon" in log, log
    assert re.search(r"attach /dev/\S+: pool scratch member \d+ of \d+ steps: lock_ms=", log), log
    assert "secret" not in log.lower() and "ASIA" not in log
    state = json.loads(vm.sh("cat /run/dmscale/scratch.daemon.json"))
    assert state["provisioned"] == len(created)
    # operators see the daemon's view in status
    st = status(vm)
    assert st["daemon"]["running"] is True and st["daemon"]["provisioned"] == len(created)
    assert st["daemon"]["threshold_bytes"] > 0
    assert "daemon      running" in vm.sh("dmscale status")

    # a clean stop
    vm.run(["systemctl", "stop", "dmscale-daemon.service"], timeout=30)
    assert "stopping" in vm.sh("journalctl -u dmscale-daemon -o cat | grep -F 'pool scratch: stopping'")
    assert vm.sh("systemctl show -p Result --value dmscale-daemon").strip() == "success"


def test_daemon_faults_retry_and_cleanup(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    init_pool(vm, 1 * GIB)
    # a threshold above the filesystem size: provision right away
    vm.write_file("/etc/dmscale/dmscale.json", daemon_config(min_free_bytes=4 * GIB, initial_volume_gib=1, max_volume_gib=1))

    # throttled CreateVolume (retried, same ClientToken) then a fatal AttachVolume error
    sim.throttle_next(2, "CreateVolume")
    sim.fail_next("AttachVolume", "UnauthorizedOperation")
    # (a throttle backs off from an 8 s base: up to 8 + 16 s for the two)
    rc, out, err = vm.run(["dmscale", "daemon", "--once"], check=False, timeout=120)
    assert rc != 0, err
    creates = [p for a, p in sim.calls if a == "CreateVolume"]
    assert len(creates) == 3, err
    assert len({p["ClientToken"] for p in creates}) == 1
    assert creates[0]["ClientToken"].startswith("dmscale-")
    live, deleted = sim_volume_ids(sim)
    assert live == {"vol-0root000000000000"} or live == set(), (live, err)
    assert len(deleted) == 1, err
    vid = next(iter(deleted))
    assert "DeleteVolume" in [a for a, _ in sim.calls]
    assert vm.sh("cat /var/lib/dmscale/scratch/pending 2>/dev/null || true").strip() == ""
    assert status(vm)["pending"] == []
    assert "UnauthorizedOperation" in err and vid in err
    assert sim.violations == []

    # no fault: the next run provisions, waits for the append and exits 0
    rc, out, err = vm.run(["dmscale", "daemon", "--once"], check=False, timeout=90)
    assert rc == 0, err
    st = wait_settled(vm, 2, timeout=30)
    assert len(st["members"]) == 2
    assert re.search(r"appended, .*latency", err), err
    assert sim.violations == []
    assert sim.terminate_instance() == {}, "a volume would leak on termination"


def test_daemon_killed_mid_provisioning_leaves_no_orphan(bed):
    """SIGKILL while CreateVolume's volume is still `creating` (not yet pending):
    systemd restarts the daemon, which finds the volume by its tags, deletes it,
    and provisions again."""
    b = bed(create_latency_s=6)
    vm, sim = b.vm, b.sim
    b.start()
    d0 = init_pool(vm, 1 * GIB)
    vm.write_file("/etc/dmscale/dmscale.json",
                  daemon_config(min_free_bytes=1536 * MIB, initial_volume_gib=1, max_volume_gib=1))
    vm.run(["systemctl", "start", "dmscale-daemon.service"])
    end = time.monotonic() + 30
    while "CreateVolume" not in sim.actions():
        assert time.monotonic() < end, vm.sh("journalctl -u dmscale-daemon -o cat")
        time.sleep(0.2)
    vm.run(["systemctl", "kill", "-s", "KILL", "dmscale-daemon.service"])
    first = next(iter(sim_volume_ids(sim)[0]))
    assert vm.sh("cat /var/lib/dmscale/scratch/pending 2>/dev/null || true").strip() == ""

    st = wait_settled(vm, 2, timeout=60)
    live, deleted = sim_volume_ids(sim)
    assert first in deleted, (first, live, deleted)
    members = {m["volume_id"] for m in st["members"]} - {d0.volume_id}
    assert live == members and len(members) == 1
    log = vm.sh("journalctl -u dmscale-daemon -o cat")
    assert "orphan of an interrupted provisioning" in log and first in log
    assert vm.sh("systemctl show -p NRestarts --value dmscale-daemon").strip() == "1"
    assert sim.violations == []
    assert sim.terminate_instance() == {}
