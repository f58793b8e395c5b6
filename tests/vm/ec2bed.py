"""The EC2 side of the test bed: the simulator (ec2sim.py) wired to a VM.

The guest reaches the simulator through QEMU user-mode guestfwd:
    169.254.169.254:80 -> IMDS      169.254.170.10:8080 -> EC2 Query API
Two QEMU guestfwd pitfalls shape this:
  * a `tcp:` chardev target is ONE host connection shared by every guest
    connection, dead for good once the server closes it (any Connection: close);
    so each forward runs `cmd:` (libslirp spawns it per guest connection), a
    tiny relay to the simulator's port (RELAY below);
  * each chardev forward is named "guestfwd.tcp.<guest port>", so two forwards
    on the same guest port fail with "duplicate yank instance": distinct ports.
The simulator's on_attach hot-plugs an NVMe disk whose serial is the volume id,
as EBS does on Nitro; the shipped udev rule + dmscale-attach@ unit append it.
"""
import json
import os
import re
import sys
import threading

from ec2sim import EC2Sim
from helpers import MIB

IMDS_IP, EC2_IP, EC2_PORT = "169.254.169.254", "169.254.170.10", 8080
EC2_URL = f"http://{EC2_IP}:{EC2_PORT}"


# Per-connection relay guest <-> simulator (stdin/stdout is the guest socket).
RELAY = r"""
import select, socket, sys
g = socket.socket(fileno=0)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
while True:
    r, _, _ = select.select([g, s], [], [])
    for a, b in ((g, s), (s, g)):
        if a in r:
            data = a.recv(65536)
            if not data:
                sys.exit(0)
            b.sendall(data)
"""


def use_relay(vm, workdir):
    """Rewrite the VM's guestfwd targets from `tcp:` chardevs to per-connection relays."""
    relay = os.path.join(workdir, "relay.py")
    with open(relay, "w") as f:
        f.write(RELAY)
    orig = vm._argv

    def argv(cold, **kw):
        a = orig(cold, **kw)
        return [re.sub(r"-tcp:127\.0\.0\.1:(\d+)", lambda m: f"-cmd:{sys.executable} {relay} {m.group(1)}", x)
                if x.startswith("user,") else x for x in a]
    vm._argv = argv


class Bed:
    """A simulator wired to a VM: AttachVolume hot-plugs, DetachVolume unplugs."""

    def __init__(self, make_vm, **simkw):
        self.vm = None
        self.plug_lock = threading.Lock()
        self.plugged = {}
        self.sim = EC2Sim(on_attach=self._on_attach, on_detach=self._on_detach, on_delete=self._on_delete,
                          **simkw).start()
        imds_port = self.sim._servers[0].server_address[1]
        ec2_port = self.sim._servers[1].server_address[1]
        self.vm = make_vm(guestfwd=[(IMDS_IP, 80, imds_port), (EC2_IP, EC2_PORT, ec2_port)])
        use_relay(self.vm, self.vm.workdir)

    def _on_attach(self, vid, size_bytes, device):
        with self.plug_lock:            # simulator timer threads; QMP is not re-entrant
            d = self.vm.new_disk(size_bytes, volume_id=vid)
            self.vm.hotplug(d)
            self.plugged[vid] = d

    def _on_detach(self, vid):
        with self.plug_lock:
            d = self.plugged.pop(vid, None)
            if d is not None and self.vm.running():
                self.vm.hotunplug(d)

    def _on_delete(self, vid):
        """DeleteVolume frees the volume's backing file (a detached disk only)."""
        with self.plug_lock:
            d = self.vm.disks.get(vid) if self.vm else None
            if d is not None and d.port is None:
                try:
                    os.unlink(d.path)
                except FileNotFoundError:
                    pass
                self.vm.disks.pop(vid, None)

    def start(self):
        self.vm.start()
        self.vm.run(["systemctl", "start", "systemd-networkd"])
        self.vm.wait_for("ip -4 -o addr show dev eth0 | grep -q 'inet '", timeout=30)

    def stop(self):
        self.sim.stop()


def daemon_config(**over):
    cfg = {
        "pool": "scratch", "mountpoint": "/var/lib/docker", "poll_interval_ms": 250,
        "min_free_bytes": 512 * MIB, "min_free_percent": 10,
        "initial_volume_gib": 2, "min_volume_gib": 1, "max_volume_gib": 2,
        "max_volumes": 4, "max_total_gib": 16, "growth_percent": 25, "fill_horizon_s": 60,
        # the tests' tiny pools and scripted writers assume the trigger of
        # free space and latency × safety_factor only (no lead-time floor)
        "min_lead_s": 0,
        "attach_timeout_s": 60, "api_timeout_ms": 5000,
        "imds_endpoint": f"http://{IMDS_IP}", "ec2_endpoint": EC2_URL,
        "tags": {"team": "ci"},
    }
    cfg.update(over)
    return json.dumps(cfg, indent=2)


