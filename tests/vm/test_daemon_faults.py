"""`dmscale daemon` under faults, in the VM against the EC2/IMDS simulator.

Covers the parts of issue 4's test list that test_daemon.py does not:
  * every simulated fault => no leaked volume (the simulator's live volumes are
    exactly the pool's members; terminate_instance() leaves nothing), daemon
    still running where that matters, a clear status (`dmscale status --json`
    "daemon" object);
  * the daemon SIGKILLed at each provisioning step and restarted by systemd
    => zero orphans, nothing pending, DeleteOnTermination on every member;
  * `dmscale init /dev/xvdba` on an image without /dev/xvdX: resolved through
    EC2 DescribeInstances block device mappings -> volume id -> NVMe serial;
  * max_volumes / max_total_gib respected and reported once.
Timings are printed, never asserted (TCG is slow and noisy).
"""
import re
import secrets
import sys
import threading
import time

from ec2bed import daemon_config
from ec2sim import ApiError
from helpers import GIB, MIB, nvme_by_serial, status, wait_dot_set

CONF = "/etc/dmscale/dmscale.json"
UNIT = "dmscale-daemon.service"


# ---------------------------------------------------------------- helpers


def init_pool(vm, size=1 * GIB):
    d = vm.new_disk(size)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    vm.run(["dmscale", "init", dev], timeout=120)
    return d


def config(**over):
    base = dict(initial_volume_gib=1, min_volume_gib=1, max_volume_gib=1, max_volumes=8)
    base.update(over)
    return daemon_config(**base)


def acts_since(sim, n0):
    with sim.lock:
        return [a for a, _ in sim.calls[n0:]]


def calls_since(sim, n0):
    with sim.lock:
        return list(sim.calls[n0:])


def wait_action(sim, action, n0, timeout=60, vm=None):
    end = time.monotonic() + timeout
    while action not in acts_since(sim, n0):
        if time.monotonic() > end:
            raise AssertionError(f"the simulator never saw {action}; calls {acts_since(sim, n0)}\n" +
                                 (daemon_log(vm)[-3000:] if vm else ""))
        time.sleep(0.05)
    return time.monotonic()


def daemon_log(vm):
    return vm.sh("journalctl -u dmscale-daemon -o cat --no-pager")


def log_mark(vm):
    return len(daemon_log(vm).splitlines())


def log_since(vm, mark):
    return "\n".join(daemon_log(vm).splitlines()[mark:])


def is_active(vm):
    rc, out, _ = vm.run(["systemctl", "is-active", UNIT], check=False)
    return out.strip()


def unit_prop(vm, prop):
    return vm.sh(f"systemctl show -p {prop} --value {UNIT}").strip()


def pending_file(vm):
    return vm.sh("cat /var/lib/dmscale/scratch/pending 2>/dev/null || true").split()


def live_ids(sim):
    with sim.lock:
        return set(sim.volumes)


def wait_deleted(sim, vid, timeout=30):
    end = time.monotonic() + timeout
    while True:
        with sim.lock:
            if vid in sim.deleted and vid not in sim.volumes:
                return
        if time.monotonic() > end:
            raise AssertionError(f"{vid} was not deleted: live {live_ids(sim)}")
        time.sleep(0.1)


def wait_pool(vm, n, timeout=90):
    """Exactly n members, nothing pending, no attach unit running."""
    end = time.monotonic() + timeout
    while True:
        st = status(vm)
        busy = vm.sh("systemctl list-units 'dmscale-attach@*' --all --state=activating --no-legend --plain")
        if len(st["members"]) == n and not st["pending"] and not busy.strip():
            return st
        if time.monotonic() > end:
            raise AssertionError(f"pool did not reach {n} members: {st}\n" +
                                 vm.sh("journalctl -b -u 'dmscale*' --no-pager -o cat | tail -60"))
        time.sleep(0.5)


def wait_daemon_state(vm, pred, timeout=30):
    """The daemon's state file (refreshed every <= 10 s) as seen by `dmscale status --json`."""
    end = time.monotonic() + timeout
    while True:
        st = status(vm)
        if st.get("daemon") and pred(st["daemon"]):
            return st
        if time.monotonic() > end:
            raise AssertionError(f"daemon state never matched: {st.get('daemon')}")
        time.sleep(0.5)


def assert_no_leak(vm, sim, st, not_in_sim=()):
    """The simulator's live volumes are exactly the pool's members (minus the
    ones the test made outside the simulator), all DeleteOnTermination, and
    nothing would survive the instance."""
    members = {m["volume_id"] for m in st["members"]} - set(not_in_sim)
    wait_dot_set(sim)
    live = live_ids(sim)
    assert live == members, f"live volumes {live} != pool members {members}"
    with sim.lock:
        for vid in live:
            a = sim.volumes[vid].attachment
            assert a and a["state"] == "attached" and a["dot"] is True, (vid, a)
    assert pending_file(vm) == [] and st["pending"] == []
    assert sim.violations == []
    assert sim.terminate_instance() == {}, "volumes would leak on termination"


def quiet_disconnects(sim):
    """A request held by Gate is answered after its client died: no traceback for that."""
    srv = sim._servers[1]
    orig = srv.handle_error

    def handle_error(request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            orig(request, client_address)
    srv.handle_error = handle_error


class Gate:
    """Hold the EC2 API after the simulator has seen `seq` (actions, in order):
    the next request is held until release(), then refused without being
    performed (the daemon that sent it is dead by then). So a kill lands
    exactly between one provisioning step and the next."""

    def __init__(self, sim, *seq):
        self.sim, self.seq, self.i = sim, list(seq), 0
        self.seen, self._release = threading.Event(), threading.Event()
        self.held = []
        self.orig = sim._faults
        sim._faults = self._faults

    def _faults(self, action):
        if self.seen.is_set():
            self.held.append(action)
            self._release.wait(120)
            raise ApiError("InternalError", "held by the test (the daemon was killed)", 500)
        self.orig(action)
        if self.i < len(self.seq) and action == self.seq[self.i]:
            self.i += 1
            if self.i == len(self.seq):
                self.seen.set()

    def wait(self, timeout=60):
        if not self.seen.wait(timeout):
            raise AssertionError(f"gate {self.seq} never reached; calls {self.sim.actions()}")

    def release(self):
        self.sim._faults = self.orig
        self._release.set()


# ---------------------------------------------------------------- 1. attach faults, --once
def test_once_attach_faults_never_leak(bed):
    """IncorrectState on AttachVolume is retried; an attachment stuck in
    `attaching` and a device that never appears are cleaned up (detached,
    deleted, not pending) after attach_timeout_s."""
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    d0 = init_pool(vm, 1 * GIB)
    # a threshold above the filesystem size: every run provisions right away
    vm.write_file(CONF, config(min_free_bytes=4 * GIB, attach_timeout_s=60))

    # IncorrectState (retryable): retried, same volume, appended
    sim.fail_next("AttachVolume", "IncorrectState", n=2)
    n0 = len(sim.calls)
    t0 = time.monotonic()
    rc, _, err = vm.run(["dmscale", "daemon", "--once"], check=False, timeout=180)
    t_ok = time.monotonic() - t0
    assert rc == 0, err
    acts = acts_since(sim, n0)
    attaches = [p for a, p in calls_since(sim, n0) if a == "AttachVolume"]
    assert acts.count("CreateVolume") == 1 and len(attaches) == 3, acts
    assert len({p["VolumeId"] for p in attaches}) == 1
    assert "DetachVolume" not in acts and "DeleteVolume" not in acts, acts
    st = wait_pool(vm, 2)
    vid1 = attaches[0]["VolumeId"]
    assert vid1 in {m["volume_id"] for m in st["members"]}
    assert st["daemon"]["provisioned"] == 1 and st["daemon"]["retries"] >= 2
    assert st["daemon"]["last_result"].startswith(f"{vid1} appended"), st["daemon"]
    print(f"\n[faults] IncorrectState x2 on AttachVolume: {len(acts)} API calls, run {t_ok:.1f} s")

    # attachment stuck in `attaching`: timeout, detach, delete
    vm.write_file(CONF, config(min_free_bytes=4 * GIB, attach_timeout_s=15))
    sim.stuck_attaching = True
    n0 = len(sim.calls)
    t0 = time.monotonic()
    rc, _, err = vm.run(["dmscale", "daemon", "--once"], check=False, timeout=180)
    t_stuck = time.monotonic() - t0
    sim.stuck_attaching = False
    assert rc != 0, err
    acts = acts_since(sim, n0)
    vid2 = next(p["VolumeId"] for a, p in calls_since(sim, n0) if a == "AttachVolume")
    for a, n in (("CreateVolume", 1), ("AttachVolume", 1), ("DetachVolume", 1), ("DeleteVolume", 1),
                 ("ModifyInstanceAttribute", 0)):
        assert acts.count(a) == n, (a, acts)
    wait_deleted(sim, vid2)
    assert 'step "wait for attached"' in err and vid2 in err, err
    assert pending_file(vm) == []
    st = status(vm)
    assert len(st["members"]) == 2 and st["pending"] == []
    dm = st["daemon"]
    assert dm["running"] is False and dm["failed"] == 1 and dm["provisioned"] == 0, dm
    assert dm["last_result"] == f"failed: Connection timed out (-); {vid2} attaching, deleted", dm
    print(f"[faults] stuck attaching, attach_timeout_s=15: run {t_stuck:.1f} s, {len(acts)} API calls, "
          f"status last_result {dm['last_result']!r} last_error {dm['last_error']!r}")

    # attached in EC2, but the device never shows up in the guest
    sim.never_call_on_attach = True
    n0 = len(sim.calls)
    t0 = time.monotonic()
    rc, _, err = vm.run(["dmscale", "daemon", "--once"], check=False, timeout=180)
    t_never = time.monotonic() - t0
    sim.never_call_on_attach = False
    assert rc != 0, err
    acts = acts_since(sim, n0)
    vid3 = next(p["VolumeId"] for a, p in calls_since(sim, n0) if a == "AttachVolume")
    for a, n in (("CreateVolume", 1), ("AttachVolume", 1), ("ModifyInstanceAttribute", 1),
                 ("DetachVolume", 1), ("DeleteVolume", 1)):
        assert acts.count(a) == n, (a, acts)
    wait_deleted(sim, vid3)
    assert f"volume {vid3} was not appended within 15 s" in err, err
    st = status(vm)
    assert len(st["members"]) == 2 and st["pending"] == [] and pending_file(vm) == []
    dm = st["daemon"]
    assert dm["last_result"] == f"{vid3}: device never appended" and dm["failed"] == 1, dm
    print(f"[faults] device never appears, attach_timeout_s=15: run {t_never:.1f} s, {len(acts)} API calls")

    assert_no_leak(vm, sim, st, not_in_sim={d0.volume_id})


# ---------------------------------------------------------------- 2. faults under systemd
def test_unit_survives_limits_imds_outage_and_expired_credentials(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    d0 = init_pool(vm, 1 * GIB)
    # below 1.5 GiB free: one 1 GiB volume brings the pool back over it
    vm.write_file(CONF, config(min_free_bytes=1536 * MIB))

    # EC2 capacity / quota errors: one CreateVolume, a clear state, no loop
    for code in ("InsufficientVolumeCapacity", "VolumeLimitExceeded"):
        sim.fail_next("CreateVolume", code, n=1)
        n0, mark = len(sim.calls), log_mark(vm)
        vm.run(["systemctl", "restart", UNIT])
        wait_action(sim, "CreateVolume", n0, vm=vm)
        time.sleep(10)
        acts = acts_since(sim, n0)
        assert acts.count("CreateVolume") == 1, acts      # no retry, no loop
        assert is_active(vm) == "active"
        log = log_since(vm, mark)
        assert len(re.findall(rf"EC2 CreateVolume failed after 1 attempt\(s\): {code}", log)) == 1, log
        assert len(re.findall(rf"provisioning a volume failed .*\(EC2 {code}\); next attempt in 300 s",
                              log)) == 1, log
        st = wait_daemon_state(vm, lambda dm: dm["failed"] == 1)
        dm = st["daemon"]
        assert dm["running"] is True and dm["last_error"] == code and dm["provisioned"] == 0, dm
        assert dm["last_result"] == f"failed: Disk quota exceeded ({code})", dm
        assert live_ids(sim) == set() and st["pending"] == [] and len(st["members"]) == 1
        print(f"\n[faults] {code}: {acts.count('CreateVolume')} CreateVolume in 10 s, "
              f"{len(acts)} API calls; status {dm['last_result']!r}")
    vm.run(["systemctl", "stop", UNIT], timeout=60)

    # IMDS down at start: the daemon keeps running and watching, then provisions once
    sim.imds_down = True
    n0, i0, mark = len(sim.calls), len(sim.imds_calls), log_mark(vm)
    vm.run(["systemctl", "start", UNIT])
    end = time.monotonic() + 30
    while len(sim.imds_calls) == i0:
        assert time.monotonic() < end, "the daemon never tried IMDS"
        time.sleep(0.1)
    time.sleep(8)
    assert is_active(vm) == "active"
    assert len(sim.calls) == n0, "EC2 called without IMDS"
    st = wait_daemon_state(vm, lambda dm: dm["running"] and dm["ec2_ready"] is False)
    assert st["daemon"]["needed"] is True, st["daemon"]
    log = log_since(vm, mark)
    assert log.count("EC2 client not ready") == 1, log
    assert log.count("needs a volume but the EC2 client is not ready") == 1, log
    tries_down = len(sim.imds_calls) - i0
    sim.imds_down = False
    t_up = time.monotonic()
    t_create = wait_action(sim, "CreateVolume", n0, timeout=90, vm=vm)
    st = wait_pool(vm, 2)
    acts = acts_since(sim, n0)
    assert acts.count("CreateVolume") == 1, acts
    log = log_since(vm, mark)
    assert "EC2 client ready" in log and is_active(vm) == "active"
    assert unit_prop(vm, "NRestarts") == "0"
    print(f"[faults] IMDS down: {tries_down} IMDS requests while down; IMDS back -> CreateVolume "
          f"{t_create - t_up:.1f} s")

    # credentials expired (rotated by the simulator): refreshed once, provisioning succeeds
    ak = sim._current_ak
    sim.expire_credentials()
    n0, i0, mark = len(sim.calls), len(sim.imds_calls), log_mark(vm)
    vm.run(["fallocate", "-l", str(700 * MIB), "/var/lib/docker/fill1"])
    wait_action(sim, "CreateVolume", n0, timeout=60, vm=vm)
    st = wait_pool(vm, 3)
    acts = acts_since(sim, n0)
    assert acts.count("CreateVolume") == 2, acts   # refused (ExpiredToken), then sent again
    log = log_since(vm, mark)
    assert log.count("EC2 CreateVolume: ExpiredToken, refreshing credentials") == 1, log
    assert sim._current_ak != ak
    cred_gets = [p for m, p in sim.imds_calls[i0:] if p.startswith("/latest/meta-data/iam/security-credentials/")]
    assert cred_gets, sim.imds_calls[i0:]
    assert is_active(vm) == "active"
    dm = st["daemon"]
    print(f"[faults] expired credentials: {len(acts)} API calls for the volume, "
          f"{len(cred_gets)} IMDS credential requests; status provisioned {dm['provisioned']}")
    assert_no_leak(vm, sim, st, not_in_sim={d0.volume_id})
    assert unit_prop(vm, "NRestarts") == "0"


# ---------------------------------------------------------------- 3. SIGKILL at every step
KILL_POINTS = [
    # (gate: kill right after these actions, what happens to that volume)
    (("CreateVolume",), "deleted"),                        # not yet pending: orphan found by tag
    (("CreateVolume", "DescribeInstances"), "deleted"),    # pending, available, not attached
    (("AttachVolume",), "member"),                         # attached, no DeleteOnTermination yet
    (("ModifyInstanceAttribute",), "member"),              # DeleteOnTermination set, not verified
]


def test_sigkill_at_every_provisioning_step_leaves_no_orphan(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    quiet_disconnects(sim)
    d0 = init_pool(vm, 1 * GIB)
    members = 1
    report = []
    for k, (seq, fate) in enumerate(KILL_POINTS):
        # each round needs exactly one more 1 GiB volume
        vm.write_file(CONF, config(min_free_bytes=(members * 1024 + 512) * MIB, min_free_percent=5))
        before = live_ids(sim) | set(sim.deleted)
        gate = Gate(sim, *seq)
        n0, mark = len(sim.calls), log_mark(vm)
        vm.run(["systemctl", "restart", UNIT])
        try:
            gate.wait(60)
            t_seen = time.monotonic()
            vm.run(["systemctl", "kill", "-s", "KILL", UNIT])
            t_kill = time.monotonic() - t_seen
            # the daemon is dead before the held request is refused
            vm.wait_for(f"journalctl -u {UNIT} -o cat --no-pager | tail -n +{mark + 1} "
                        "| grep -q 'status=9/KILL'", timeout=15)
        finally:
            gate.release()
        with sim.lock:
            new = sorted((set(sim.volumes) | set(sim.deleted)) - before,
                         key=lambda v: (sim.volumes.get(v) or sim.deleted.get(v)).create_time)
        victim = new[0]
        # settle: restarted by systemd (RestartSec=5s), recovered, pool grown by one
        end = time.monotonic() + 60
        while len(re.findall(r"^EC2: instance ", log_since(vm, mark), re.M)) < 2 or is_active(vm) != "active":
            assert time.monotonic() < end, log_since(vm, mark)
            time.sleep(0.5)
        st = wait_pool(vm, members + 1, timeout=120)
        members += 1
        end = time.monotonic() + 30
        while True:   # recovery may still be cleaning up / setting DeleteOnTermination
            with sim.lock:
                done = set(sim.volumes) == {m["volume_id"] for m in st["members"]} - {d0.volume_id} and \
                    all(v.attachment and v.attachment["dot"] for v in sim.volumes.values())
            if done or time.monotonic() > end:
                break
            time.sleep(0.5)
        assert is_active(vm) == "active"
        log = log_since(vm, mark)
        # started by the test, SIGKILLed, restarted by systemd (Restart=on-failure): two runs
        assert len(re.findall(r"^dmscale daemon \S+: pool scratch at", log, re.M)) == 2, log
        assert "Scheduled restart job" in log, log
        ids = {m["volume_id"] for m in st["members"]}
        if fate == "deleted":
            wait_deleted(sim, victim)
            assert acts_since(sim, n0).count("CreateVolume") == 2
        else:
            assert victim in ids
            assert acts_since(sim, n0).count("CreateVolume") == 1
        with sim.lock:
            live = set(sim.volumes)
            dots = {v: bool(sim.volumes[v].attachment and sim.volumes[v].attachment["dot"]) for v in live}
        assert live == ids - {d0.volume_id}, f"after kill at {seq}: live {live}, members {ids}"
        assert all(dots.values()), f"after kill at {seq}: DeleteOnTermination {dots}"
        assert pending_file(vm) == []
        log = log_since(vm, mark)
        if seq == ("AttachVolume",):
            assert f"volume {victim} attached as /dev/xvdb" in log and \
                "by an interrupted provisioning: DeleteOnTermination set" in log, log
        report.append(f"{'+'.join(seq)}: held {gate.held}, kill {t_kill:.2f} s after the step, "
                      f"{len(acts_since(sim, n0))} API calls")
        assert sim.violations == [], sim.violations
    print("\n[kill] " + "\n[kill] ".join(report))
    log = daemon_log(vm)
    assert "orphan of an interrupted provisioning" in log
    assert "(provisioning was interrupted)" in log
    assert_no_leak(vm, sim, status(vm), not_in_sim={d0.volume_id})


# ---------------------------------------------------------------- 4. /dev/xvdba, limits
def map_device(sim, device, volume_id, dot=True):
    """Record a volume attached to the instance at `device` (as a launch
    template's block device mapping would): DescribeInstances lists it."""
    with sim.lock:
        sim.bdm[device] = {"volume": volume_id, "dot": dot, "state": "attached"}


def test_init_xvdba_through_ec2_mapping_then_limits(bed):
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    vid = "vol-0" + secrets.token_hex(8)
    map_device(sim, "/dev/xvdba", vid)
    d = vm.new_disk(2 * GIB, volume_id=vid)
    vm.hotplug(d)
    dev = nvme_by_serial(vm, d.serial)
    vm.write_file(CONF, config(min_free_bytes=1 * GIB, max_volumes=2))
    assert vm.sh("test -e /dev/xvdba && echo present || echo absent").strip() == "absent"
    n0 = len(sim.calls)
    rc, _, err = vm.run(["dmscale", "init", "/dev/xvdba"], check=False, timeout=120)
    assert rc == 0, err
    assert f"/dev/xvdba: resolved to {dev} (EC2 block device mapping: {vid})" in err, err
    assert acts_since(sim, n0) == ["DescribeInstances"]
    st = status(vm)
    assert st["state"] == "active" and st["mountpoint"] == "/var/lib/docker"
    assert [(m["volume_id"], m["device"]) for m in st["members"]] == [(vid, dev)]
    assert sim.violations == []
    print(f"\n[xvdba] {err.strip()}")

    # max_volumes = 2: one volume is added, then the daemon stops and says so once
    n0, mark = len(sim.calls), log_mark(vm)
    vm.run(["systemctl", "start", UNIT])
    vm.wait_for("journalctl -u dmscale-daemon -o cat | grep -q 'watching /var/lib/docker'", timeout=30)
    vm.run(["fallocate", "-l", str(1200 * MIB), "/var/lib/docker/fill1"])
    st = wait_pool(vm, 2)
    attach = [p for a, p in calls_since(sim, n0) if a == "AttachVolume"]
    assert len(attach) == 1 and attach[0]["Device"] == "/dev/xvdbb"   # xvdba is taken
    # the fill-rate estimate decays; then the filesystem fills past the threshold
    wait_daemon_state(vm, lambda dm: dm["needed"] is False and dm["provisioned"] == 1, timeout=60)
    mark = log_mark(vm)
    vm.run(["fallocate", "-l", str(1024 * MIB), "/var/lib/docker/fill2"])
    st = wait_daemon_state(vm, lambda dm: dm["reason"] == "max-volumes")
    vm.run(["fallocate", "-l", str(200 * MIB), "/var/lib/docker/fill3"])
    time.sleep(6)
    log = log_since(vm, mark)
    assert log.count("needs space but cannot provision: limit max-volumes reached") == 1, log
    assert acts_since(sim, n0).count("CreateVolume") == 1
    dm = status(vm)["daemon"]
    assert dm["needed"] is True and dm["reason"] == "max-volumes" and dm["provisioned"] == 1, dm
    assert is_active(vm) == "active"
    print(f"[limits] max_volumes=2: {acts_since(sim, n0).count('CreateVolume')} CreateVolume, "
          f"status reason {dm['reason']!r}, free {dm['free_bytes'] // MIB} MiB < threshold "
          f"{dm['threshold_bytes'] // MIB} MiB")

    # max_total_gib = the pool's size: nothing more
    vm.write_file(CONF, config(min_free_bytes=1 * GIB, max_volumes=8, max_total_gib=3))
    n0, mark = len(sim.calls), log_mark(vm)
    vm.run(["systemctl", "restart", UNIT])
    st = wait_daemon_state(vm, lambda dm: dm["reason"] == "max-total" and dm["running"])
    time.sleep(6)
    log = log_since(vm, mark)
    assert log.count("needs space but cannot provision: limit max-total reached") == 1, log
    assert "CreateVolume" not in acts_since(sim, n0)
    assert is_active(vm) == "active"
    print(f"[limits] max_total_gib=3: no CreateVolume, status reason {st['daemon']['reason']!r}")
    assert_no_leak(vm, sim, status(vm), not_in_sim={vid})


def test_adopts_volume_attached_but_not_in_pool(bed):
    """A volume of ours, attached here, neither member nor pending (a daemon
    killed between AttachVolume and recording it): the restarted daemon hands it
    to the shipped attach unit instead of leaving it stranded."""
    from ec2sim import Volume
    b = bed()
    vm, sim = b.vm, b.sim
    b.start()
    init_pool(vm, 2 * GIB)
    vid = "vol-0" + secrets.token_hex(8)
    v = Volume(vid, 1, sim.az, "gp3", None, None, False, None,
               {"dmscale:pool": "scratch", "dmscale:instance": sim.instance_id}, None)
    v.state = "in-use"
    v.attachment = {"instance": sim.instance_id, "device": "/dev/xvdbb", "state": "attached", "dot": True,
                    "time": "2026-11-25T00:00:00.000Z"}
    with sim.lock:
        sim.volumes[vid] = v
    map_device(sim, "/dev/xvdbb", vid)
    d = vm.new_disk(1 * GIB, volume_id=vid)
    vm.hotplug(d)
    nvme_by_serial(vm, d.serial)
    vm.wait_for("systemctl list-units 'dmscale-attach@*' --all --state=activating --no-legend "
                "| grep -q . && exit 1 || exit 0", timeout=30)
    assert len(status(vm)["members"]) == 1, "udev must leave an unexpected volume alone"
    vm.write_file(CONF, config(min_free_bytes=64 * MIB, min_free_percent=1))
    vm.run(["systemctl", "start", UNIT])
    end = time.monotonic() + 60
    while len(status(vm)["members"]) < 2:
        assert time.monotonic() < end, vm.sh("journalctl -b -u 'dmscale*' -o cat | tail -30")
        time.sleep(0.5)
    st = status(vm)
    assert [m["volume_id"] for m in st["members"]][1] == vid and st["pending"] == []
    assert "adopting it through dmscale-attach@" in vm.sh(f"journalctl -u {UNIT} -o cat")
    assert "CreateVolume" not in sim.actions()
    assert sim.violations == []
