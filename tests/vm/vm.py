"""The VM test bed: a real Debian kernel + systemd + udev under QEMU (TCG),
EBS-style NVMe disks that can be hot-plugged and unplugged through QMP,
commands run through qemu-guest-agent, power cuts by SIGKILL.

Layout of a test's work directory:
    root.qcow2      copy-on-write overlay over the session's installed image
    console.log     serial console (kernel + systemd)
    qmp.sock        QMP monitor
    qga.sock        qemu-guest-agent channel
    disks/volXXX.img sparse data disks
"""
import base64
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("DMSCALE_BUILD", os.path.join(PROJECT, "build"))
VMDIR = os.path.join(BUILD, "vm")
ROOTFS = os.path.join(VMDIR, "rootfs")

ACCEL = os.environ.get("DMSCALE_VM_ACCEL", "tcg")
# The guest CPU model: qemu64 (SSE3, no AVX, no XSAVE), not "max". Under TCG
# every feature the guest sees is emulated, and with "max" the guest kernel
# saves extended state at each context switch and glibc takes its AVX2 string
# routines, all through QEMU helpers. Same guest work, one VM alone on this
# host (guest seconds, max against qemu64): 20 fork+exec 1.45 against 0.70,
# 5 `dmscale status` 1.70 against 0.75-0.99, 32 MiB urandom | sha256sum 2.2
# against 1.2-1.4, dd 256 MiB O_DIRECT 1.07 against 0.44-0.48, a boot 13.8-15.0
# against 12.6-12.9 s; the whole probe 28.4-30.0 against 22.1-23.2 s of host
# CPU. Westmere and Nehalem-v2 were in between. Nothing in the product depends
# on the CPU model.
CPU = os.environ.get("DMSCALE_VM_CPU", "qemu64")
# One vCPU per guest: under TCG on this 2-core host, three 1-vCPU guests get
# more done than two 2-vCPU ones (the whole suite: 25.0 min against 30.1). The bench keeps 2.
SMP = int(os.environ.get("DMSCALE_VM_SMP", "1"))
# pcie-root-ports per VM: one per disk attached at once. Each costs the guest
# CPU at every boot under TCG (firmware and pciehp set it up: 12 rather than
# 32 ports measured 13.6 s of QEMU CPU per boot against 16.3). The guests that
# test_hostile and test_powercut share across a file keep many disks: 32.
ROOT_PORTS = 16
DEFAULT_TIMEOUT_S = 600    # hard limit on any VM's life


class VMError(Exception):
    pass


class CommandFailed(VMError):
    def __init__(self, argv, rc, out, err):
        super().__init__(f"{argv!r} exited {rc}\nstdout: {out}\nstderr: {err}")
        self.argv, self.rc, self.out, self.err = argv, rc, out, err


def _set_pdeathsig():
    """QEMU dies with the harness, whatever kills the harness."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgrp()


def backoff(first=0.2, factor=1.5, cap=2.0):
    """Sleeps between the polls of a guest condition: quick at first, then
    at most one poll every `cap` seconds. Each poll starts processes in the
    guest (systemctl, dmscale status: about half a second of CPU each under
    TCG), so a tight loop takes the CPU from the very work it waits for."""
    d = first
    while True:
        yield d
        d = min(cap, d * factor)


def random_volume_id():
    return "vol-0" + secrets.token_hex(8)


def serial_of(volume_id):
    """EBS NVMe serial: vol-0123456789abcdef0 -> vol0123456789abcdef0."""
    return volume_id.replace("-", "", 1)


def _boot_file(prefix, what):
    boot = os.path.join(ROOTFS, "boot")
    for n in sorted(os.listdir(boot)):
        if n.startswith(prefix):
            return os.path.join(boot, n)
    raise VMError(f"no {what} in {boot}: run tests/vm/build-base.sh first")


def kernel_path():
    return _boot_file("vmlinuz-", "kernel")


def initrd_path():
    return _boot_file("initrd.img-", "initramfs")


# Units a test guest does not need; masking them takes boot under TCG from ~45 s to ~15 s.
MASK_UNITS = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "e2scrub_reap.service",
    "fstrim.timer", "systemd-timesyncd.service", "lvm2-monitor.service", "systemd-logind.service",
    "getty@tty1.service", "serial-getty@ttyS0.service", "systemd-journal-flush.service",
    "systemd-update-utmp.service", "systemd-update-utmp-runlevel.service",
    "dev-hugepages.mount", "dev-mqueue.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
    "sys-kernel-config.mount", "sys-fs-fuse-connections.mount", "proc-sys-fs-binfmt_misc.automount",
    "systemd-binfmt.service", "modprobe@fuse.service", "modprobe@drm.service",
    "modprobe@configfs.service", "modprobe@efi_pstore.service", "systemd-pstore.service",
    "systemd-random-seed.service", "systemd-tmpfiles-clean.timer", "dpkg-db-backup.timer",
    "systemd-networkd-wait-online.service", "getty.target",
    # nothing for them to do in the test guest (users made at install, no
    # fstab, root mounted rw, no sysctl the tests need, no loop devices):
    # 3-6 s less guest CPU per boot under TCG (17-18 s against 20-23 measured)
    "systemd-sysusers.service", "systemd-user-sessions.service", "systemd-remount-fs.service",
    "systemd-sysctl.service", "modprobe@loop.service",
]


def tune_guest(root):
    sysd = os.path.join(root, "etc/systemd/system")
    os.makedirs(sysd, exist_ok=True)
    for u in MASK_UNITS:
        p = os.path.join(sysd, u)
        if os.path.lexists(p):
            os.unlink(p)
        os.symlink("/dev/null", p)
    jd = os.path.join(root, "etc/systemd/journald.conf.d")
    os.makedirs(jd, exist_ok=True)
    conf = os.path.join(jd, "test.conf")
    if os.path.lexists(conf):
        os.unlink(conf)       # never write through a hard link into the cached rootfs
    with open(conf, "w") as f:
        f.write("[Journal]\nStorage=volatile\nRateLimitBurst=0\n")
    # networkd only for tests that talk to the EC2 simulator: started on demand.
    for w in ("multi-user.target.wants/systemd-networkd.service",
              "sockets.target.wants/systemd-networkd.socket",
              "network-online.target.wants/systemd-networkd-wait-online.service",
              "sysinit.target.wants/systemd-network-generator.service"):
        p = os.path.join(sysd, w)
        if os.path.lexists(p):
            os.unlink(p)


def build_installed_image(out_img, size_gib=3):
    """Root filesystem = cached base rootfs + `make install DESTDIR=…` of the
    project, packed into an ext4 image with mkfs.ext4 -d (no loop mounts)."""
    t0 = time.monotonic()
    # Private work paths and an atomic rename: several test sessions may share
    # build/vm, and running VMs keep the old image's inode open.
    stage = f"{out_img}.stage.{os.getpid()}"
    inst = f"{out_img}.install.{os.getpid()}"
    tmp_img = f"{out_img}.tmp.{os.getpid()}"
    for d in (stage, inst):
        shutil.rmtree(d, ignore_errors=True)
    # Hard-link copy of the cache: cheap, and the cache is never written through it
    # because the install tree is copied over with --remove-destination.
    subprocess.run(["cp", "-al", os.path.realpath(ROOTFS), stage], check=True)
    # TESTING=1: the failpoints the crash tests arm (build-testing/; never the package).
    # One make at a time: xdist workers and the bench build their images at once,
    # and two makes relinking the same build-testing/ archives break each other.
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "-s", "-C", PROJECT, "install", f"DESTDIR={inst}", "TESTING=1"],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cp", "-a", "--remove-destination", inst + "/.", stage + "/"], check=True)
    tune_guest(stage)
    # Enable the shipped units the way the package's postinst would.
    wants = os.path.join(stage, "etc/systemd/system/sysinit.target.wants")
    os.makedirs(wants, exist_ok=True)
    unit = "/usr/lib/systemd/system/dmscale-assemble.service"
    if os.path.exists(stage + unit):
        link = os.path.join(wants, "dmscale-assemble.service")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(unit, link)
    if os.path.exists(tmp_img):
        os.unlink(tmp_img)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", stage, tmp_img, f"{size_gib}G"],
                   check=True)
    os.replace(tmp_img, out_img)
    shutil.rmtree(stage)
    shutil.rmtree(inst)
    return time.monotonic() - t0


class Template:
    """A booted guest, saved: its root disk (a qcow2 overlay over the session's
    installed image, the root filesystem frozen clean) and its machine state
    (QEMU's migration stream). VMs of the same machine (machine_key) whose
    first power-on has no cold disks resume it instead of booting: under TCG
    a boot is 20-35 s of CPU, about a third of the VM suite's. Reboots, power
    cuts and cold-disk boots still boot for real, with the NVMe root."""
    def __init__(self, disk, state, key):
        self.disk, self.state, self.key = disk, state, key


TEMPLATES = {}      # abspath(base image) -> Template


def build_template(base_image, workdir):
    """Boot a default guest of base_image and save it (see Template); register
    it for the VMs made after. Returns the seconds it took."""
    t0 = time.monotonic()
    v = VM(workdir, base_image, warm=False)
    v._virtio_root = True
    try:
        v.start(boot_timeout=600)
        # settled: no start job left running when it is frozen
        v.run(["systemctl", "is-system-running", "--wait"], check=False, timeout=300)
        v.run(["sync"])
        v.qga.call("guest-fsfreeze-freeze", timeout=120)
        v.qmp.cmd("stop")
        v.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 8 << 30})
        state = os.path.join(workdir, "state")
        v.qmp.cmd("migrate", uri=f"exec:cat > {state}.tmp")
        v._wait_migration(300, "saving the booted guest")
        key = v.machine_key()
    finally:
        v.kill()
    os.replace(state + ".tmp", state)
    TEMPLATES[os.path.abspath(base_image)] = Template(v.root, state, key)
    return time.monotonic() - t0


def record_figure(name, *fields):
    """Append one tab-separated line to build/vm-logs/NAME (issue 11's cost
    figures): a figure, never a reason to fail a test."""
    try:
        os.makedirs(os.path.join(BUILD, "vm-logs"), exist_ok=True)
        with open(os.path.join(BUILD, "vm-logs", name), "a") as f:
            f.write("\t".join(str(x) for x in fields) + "\n")
    except OSError:
        pass


def _record_boot(seconds, ncold, resumed=False):
    """One line per power-on in boot-times.tsv (test, seconds, cold disks,
    booted|resumed): where the suite's time goes."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "-").split(" ")[0]
    record_figure("boot-times.tsv", test, f"{seconds:.1f}", ncold, "resumed" if resumed else "booted")


class QemuExited(VMError):
    """QEMU stopped while the guest was booting (a panic with -no-reboot)."""


class QMP:
    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        end = time.monotonic() + 10
        while True:         # QEMU binds the socket a moment before it listens on it
            try:
                self.sock.connect(path)
                break
            except ConnectionRefusedError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.f = self.sock.makefile("rwb")
        self.events = []
        self.lock = threading.RLock()   # simulator threads hot-plug concurrently
        greeting = json.loads(self.f.readline())
        assert "QMP" in greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        with self.lock:
            return self._cmd(name, **args)

    def _cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise VMError("QMP connection closed")
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise VMError(f"QMP {name} {args}: {r['error']}")
            return r.get("return")

    def wait_event(self, name, timeout=30, pred=lambda e: True):
        with self.lock:
            return self._wait_event(name, timeout, pred)

    def _wait_event(self, name, timeout, pred):
        end = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and pred(e):
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                raise VMError(f"timeout waiting for QMP event {name}")
            self.sock.settimeout(left)
            line = self.f.readline()
            if not line:
                raise VMError("QMP connection closed")
            r = json.loads(line)
            if "event" in r:
                self.events.append(r)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class GuestAgent:
    """qemu-guest-agent client: guest-exec + guest-exec-status polling."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""

    def connect(self, timeout):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
                self.buf = b""
                self._sync(min(5, max(1, end - time.monotonic())))
                return
            except (OSError, VMError, ValueError) as e:  # agent not up yet
                last = e
                if self.sock:
                    self.sock.close()
                    self.sock = None
                time.sleep(0.3)
        raise VMError(f"guest agent not reachable within {timeout}s: {last}")

    def _readline(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise VMError("guest agent timeout")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise VMError("guest agent closed the channel")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def _sync(self, timeout):
        sid = secrets.randbelow(2**31)
        self.sock.sendall(b"\xff" + json.dumps(
            {"execute": "guest-sync-delimited", "arguments": {"id": sid}}).encode() + b"\n")
        end = time.monotonic() + timeout
        while True:
            line = self._readline(max(0.1, end - time.monotonic()))
            line = line.split(b"\xff")[-1].strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("return") == sid:
                return

    def call(self, name, timeout=30, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self._readline(timeout).split(b"\xff")[-1].strip()
            if not line:
                continue
            r = json.loads(line)
            if "error" in r:
                raise VMError(f"guest agent {name}: {r['error']}")
            if "return" in r:
                return r["return"]

    # What a guest command that outlived its kill was blocked on: processes in
    # D state and their kernel stacks, block devices with requests in flight,
    # device-mapper's state and the kernel's last words (I/O timeouts of the
    # emulated NVMe show there, below the console's log level).
    BLOCKED_REPORT = (
        "for p in /proc/[0-9]*; do s=$(sed 's/.*) //' $p/stat 2>/dev/null | cut -d' ' -f1); [ \"$s\" = D ] || continue; "
        "echo \"D ${p#/proc/} $(tr '\\0' ' ' < $p/cmdline | cut -c1-120)\"; head -12 $p/stack; done; "
        "for f in /sys/block/*/inflight; do read r w < $f; [ $((r + w)) -eq 0 ] || echo \"inflight $f $r $w\"; done; "
        "dmsetup info -c 2>&1 | head -20; dmsetup status 2>&1 | head -20; dmesg | tail -40")

    def blocked_report(self):
        try:
            pid = self.call("guest-exec", path="/usr/bin/timeout", arg=["-k", "2", "20", "/bin/sh", "-c",
                                                                          self.BLOCKED_REPORT],
                            **{"capture-output": True})["pid"]
            end = time.monotonic() + 30
            while time.monotonic() < end:
                st = self.call("guest-exec-status", pid=pid)
                if st.get("exited"):
                    return "guest state:\n" + base64.b64decode(st.get("out-data", "")).decode(errors="replace")[-6000:]
                time.sleep(0.5)
            return "(the guest's state report did not finish either)"
        except Exception as e:   # noqa: BLE001 - best effort on a broken guest
            return f"(no guest state report: {e})"

    def exec(self, argv, stdin=None, timeout=120):
        args = {"path": "/usr/bin/timeout",
                "arg": ["-k", "5", str(int(timeout))] + list(argv),
                "capture-output": True}
        if stdin is not None:
            if isinstance(stdin, str):
                stdin = stdin.encode()
            args["input-data"] = base64.b64encode(stdin).decode()
        pid = self.call("guest-exec", **args)["pid"]
        end = time.monotonic() + timeout + 15
        delay = 0.01
        while True:
            st = self.call("guest-exec-status", pid=pid)
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
                rc = st.get("exitcode", 128 + st.get("signal", 0))
                return rc, out, err
            if time.monotonic() > end:
                raise VMError(f"guest command {argv!r} did not finish in {timeout}s (even killed: blocked "
                              f"in the kernel)\n{self.blocked_report()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


class Disk:
    def __init__(self, path, volume_id, size_bytes):
        self.path, self.volume_id, self.size_bytes = path, volume_id, size_bytes
        self.node = "blk_" + serial_of(volume_id)
        self.dev_id = "nvme_" + serial_of(volume_id)
        self.port = None   # root port while attached
        self.nbd = None    # (unix socket path, export name): served by an NBD server, not a file

    @property
    def serial(self):
        return serial_of(self.volume_id)

    def sha256(self):
        """Checksum of the device: its size and every allocated extent of the
        sparse backing file with its offset (SEEK_DATA/SEEK_HOLE), so a 2 GiB
        mostly-empty disk hashes in milliseconds. Any write the guest made
        (even of zeros into a hole) changes it."""
        import hashlib
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            fd = f.fileno()
            size = os.fstat(fd).st_size
            h.update(size.to_bytes(8, "little"))
            off = 0
            while off < size:
                try:
                    data = os.lseek(fd, off, os.SEEK_DATA)
                except OSError:      # ENXIO: no data after off
                    break
                hole = os.lseek(fd, data, os.SEEK_HOLE)
                h.update(data.to_bytes(8, "little"))
                f.seek(data)
                left = hole - data
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    h.update(chunk)
                    left -= len(chunk)
                off = hole
        return h.hexdigest()


class VM:
    def __init__(self, workdir, base_image, mem_mib=1024, smp=None, timeout_s=DEFAULT_TIMEOUT_S,
                 guestfwd=(), net=True, cmdline_extra="", root_ports=None, warm=True):
        self.workdir = workdir
        os.makedirs(os.path.join(workdir, "disks"), exist_ok=True)
        self.base_image = base_image
        self.root = os.path.join(workdir, "root.qcow2")
        self.mem_mib, self.smp = mem_mib, smp or SMP
        self.timeout_s = timeout_s
        self.guestfwd = list(guestfwd)
        self.net = net
        self.cmdline_extra = cmdline_extra
        self.root_ports = root_ports or ROOT_PORTS
        self.proc = None
        self.qmp = None
        self.qga = None
        self.disks = {}          # volume_id -> Disk
        self.boots = 0
        self._watchdog = None
        self._virtio_root = False    # only the machine a Template saves
        # A first power-on without cold disks resumes the session's booted
        # snapshot of base_image (see Template) when the machine matches it.
        self.template = TEMPLATES.get(os.path.abspath(base_image)) if warm else None
        if self.template and self.template.key != self.machine_key():
            self.template = None
        backing, fmt = (self.template.disk, "qcow2") if self.template else (os.path.abspath(base_image), "raw")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", fmt, "-b", backing, self.root],
                       check=True)

    def machine_key(self):
        """What a snapshot's machine must share with this one to be resumed here
        (the guestfwd ports are the user network's, outside the guest's state)."""
        return (self.mem_mib, self.smp, self.root_ports, self.cmdline_extra, self.net, ACCEL, CPU)

    # ---- disks -------------------------------------------------------------
    def new_disk(self, size_bytes, volume_id=None):
        volume_id = volume_id or random_volume_id()
        path = os.path.join(self.workdir, "disks", serial_of(volume_id) + ".img")
        with open(path, "wb") as f:
            f.truncate(size_bytes)       # sparse
        d = Disk(path, volume_id, size_bytes)
        self.disks[volume_id] = d
        return d

    def new_nbd_disk(self, server, size_bytes, volume_id=None):
        """A disk served by a crashdisk.Server (recording, failing or hanging);
        its image file is the server's live image."""
        volume_id = volume_id or random_volume_id()
        path = os.path.join(self.workdir, "disks", serial_of(volume_id) + ".nbd.img")
        server.add(serial_of(volume_id), path, size_bytes)
        d = Disk(path, volume_id, size_bytes)
        d.nbd = (server.sock_path, serial_of(volume_id))
        self.disks[volume_id] = d
        return d

    def _free_port(self):
        used = {d.port for d in self.disks.values() if d.port is not None}
        for i in range(1, self.root_ports + 1):
            if f"rp{i}" not in used:
                return f"rp{i}"
        raise VMError("no free pcie-root-port left")

    def hotplug(self, disk):
        """Attach like EBS on Nitro: a new NVMe controller on a free root port."""
        if not self.running():
            raise VMError("VM not running")
        with self.qmp.lock:
            self._hotplug(disk)

    def _hotplug(self, disk):
        port = self._free_port()
        if disk.nbd:
            # no host cache in between: the NBD server sees every write, FLUSH and FUA
            self.qmp.cmd("blockdev-add", **{"driver": "nbd", "node-name": disk.node,
                                             "server": {"type": "unix", "path": disk.nbd[0]},
                                             "export": disk.nbd[1]})
        else:
            self.qmp.cmd("blockdev-add", **{"driver": "raw", "node-name": disk.node,
                                             "file": {"driver": "file", "filename": disk.path,
                                                      "aio": "threads", "cache": {"direct": False}}})
        self.qmp.cmd("device_add", driver="nvme", id=disk.dev_id, serial=disk.serial,
                     drive=disk.node, bus=port)
        disk.port = port

    def hotunplug(self, disk, timeout=30):
        self.qmp.cmd("device_del", id=disk.dev_id)
        self.qmp.wait_event("DEVICE_DELETED", timeout=timeout,
                            pred=lambda e: e.get("data", {}).get("device") == disk.dev_id)
        self.qmp.cmd("blockdev-del", **{"node-name": disk.node})
        disk.port = None

    # ---- lifecycle ---------------------------------------------------------
    def _argv(self, cold_disks, virtio_root=False):
        """virtio_root: the machine a Template snapshots (and resumes): its root
        disk is virtio-blk, which QEMU can migrate (its NVMe device cannot), so
        it boots through the image's initramfs (virtio_blk is a module). Every
        other boot keeps the root on NVMe, as on Nitro, with no initramfs."""
        cmdline = ("rw console=ttyS0,115200 panic=-1 "
                   "systemd.show_status=auto net.ifnames=0 nvme_core.io_timeout=30 quiet loglevel=4 "
                   "systemd.journald.forward_to_console=0 no_timer_check " + self.cmdline_extra)
        if virtio_root:
            boot = ["-initrd", initrd_path(), "-append", "root=LABEL=root " + cmdline]
            rootdev = ["-device", "virtio-blk-pci,drive=rootdisk,bus=pcie.0,addr=0x5"]
        else:
            boot = ["-append", "root=/dev/nvme0n1 " + cmdline]
            rootdev = ["-device", "nvme,serial=rootvol0000000000000000,drive=rootdisk,bus=pcie.0,addr=0x5"]
        a = ["qemu-system-x86_64", "-machine", "q35,accel=" + ACCEL, "-cpu", CPU,
             "-smp", str(self.smp), "-m", str(self.mem_mib),
             "-nodefaults", "-display", "none", "-no-reboot",
             "-kernel", kernel_path()] + boot + [
             "-serial", f"file:{os.path.join(self.workdir, f'console.{self.boots}.log')}",
             "-qmp", f"unix:{os.path.join(self.workdir, 'qmp.sock')},server=on,wait=off",
             "-chardev", f"socket,id=qga0,path={os.path.join(self.workdir, 'qga.sock')},server=on,wait=off",
             "-device", "virtio-serial-pci,id=vser0",
             "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
             "-blockdev", f"driver=qcow2,node-name=rootdisk,file.driver=file,file.filename={self.root},"
                          "file.aio=threads,cache.direct=off"] + rootdev
        for i in range(1, self.root_ports + 1):
            a += ["-device", f"pcie-root-port,id=rp{i},bus=pcie.0,chassis={i},"
                             f"addr={0x8 + (i - 1) // 8:#x}.{(i - 1) % 8},multifunction=on"]
        for d in cold_disks:
            a += ["-blockdev", f"driver=raw,node-name={d.node},file.driver=file,"
                               f"file.filename={d.path},file.aio=threads",
                  "-device", f"nvme,id={d.dev_id},serial={d.serial},drive={d.node},bus={d.port}"]
        if self.net:
            nd = "user,id=net0,restrict=on,net=169.254.0.0/16,host=169.254.0.1,dhcpstart=169.254.0.15"
            for gip, gport, hport in self.guestfwd:
                nd += f",guestfwd=tcp:{gip}:{gport}-tcp:127.0.0.1:{hport}"
            a += ["-netdev", nd, "-device", "virtio-net-pci,netdev=net0,romfile="]
        return a

    def start(self, cold_disks=None, shuffle_seed=None, boot_timeout=300):
        """Boot. cold_disks: Disks present at power-on (in this port order).
        A guest that dies during early boot (TCG on a loaded host can still trip
        the kernel's timer checks) is powered on once more. boot_timeout: 300 s,
        since a boot after a power cut (journal replay, 2+ disks) on a loaded
        2-core host has taken over 120 s (test_thin's power cuts, this host,
        with every guest booting)."""
        for attempt in (1, 2):
            try:
                return self._start_once(cold_disks, shuffle_seed, boot_timeout)
            except QemuExited:
                self._reap()
                if attempt == 2:
                    raise
                print(f"[bed] QEMU exited during boot; powering on again:\n{self.console_tail(15)}",
                      file=sys.stderr)

    def _start_once(self, cold_disks, shuffle_seed, boot_timeout):
        if self.running():
            raise VMError("already running")
        cold = list(cold_disks if cold_disks is not None else
                    [d for d in self.disks.values() if d.port is not None])
        if self.template and self.boots == 0 and not cold:
            return self._resume_template()
        for d in self.disks.values():
            d.port = None
        if shuffle_seed is not None:
            import random
            random.Random(shuffle_seed).shuffle(cold)
        for i, d in enumerate(cold):
            d.port = f"rp{self.root_ports - i}"   # use ports from the top; hot-plug uses the bottom
        self._launch(self._argv(cold, virtio_root=self._virtio_root))
        self._wait_agent(boot_timeout)
        self.boot_seconds = time.monotonic() - self.t_start
        _record_boot(self.boot_seconds, len(cold))
        return self.boot_seconds

    def _launch(self, argv):
        for s in ("qmp.sock", "qga.sock"):
            try:
                os.unlink(os.path.join(self.workdir, s))
            except FileNotFoundError:
                pass
        self.t_start = time.monotonic()
        self.log = open(os.path.join(self.workdir, f"qemu.{self.boots}.log"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=_set_pdeathsig)
        self.boots += 1
        self._arm_watchdog()
        end = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.workdir, "qmp.sock")):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise VMError("QEMU did not start: " + self.qemu_log())
            time.sleep(0.05)
        self.qmp = QMP(os.path.join(self.workdir, "qmp.sock"))
        self.qga = GuestAgent(os.path.join(self.workdir, "qga.sock"))

    def _wait_migration(self, timeout, what):
        end = time.monotonic() + timeout
        while True:
            st = self.qmp.cmd("query-migrate").get("status")
            if st == "completed":
                return
            if st in ("failed", "cancelled") or self.proc.poll() is not None or time.monotonic() > end:
                raise VMError(f"{what} failed: migration {st}\n" + self.qemu_log())
            time.sleep(0.05)

    def _resume_template(self):
        """Power on by resuming the session's snapshot of a booted guest (3-5 s
        measured, instead of a 20-35 s boot under TCG), then make this guest its own:
        the host's time, a reseeded random generator (two guests resumed from
        one snapshot would otherwise draw the same numbers), the root
        filesystem thawed."""
        t = self.template
        self._launch(self._argv([], virtio_root=True) + ["-incoming", f"exec:cat {t.state}"])
        self._wait_migration(120, "resuming the booted guest")
        self.qmp.cmd("cont")          # it was saved stopped, so it arrives paused
        self._wait_agent(120)
        self.qga.call("guest-fsfreeze-thaw")
        seed = secrets.token_hex(64)
        self.run(["/usr/bin/python3", "-c",
                  "import fcntl, os, struct, sys, time\n"
                  "d = bytes.fromhex(sys.argv[1])\n"
                  "fd = os.open('/dev/random', os.O_WRONLY)\n"
                  "fcntl.ioctl(fd, 0x40085203, struct.pack('ii', len(d) * 8, len(d)) + d)  # RNDADDENTROPY\n"
                  "fcntl.ioctl(fd, 0x5207)                                              # RNDRESEEDCRNG\n"
                  "time.clock_settime(time.CLOCK_REALTIME, float(sys.argv[2]))\n",
                  seed, f"{time.time():.6f}"])
        self.boot_seconds = time.monotonic() - self.t_start
        _record_boot(self.boot_seconds, 0, resumed=True)
        return self.boot_seconds

    def _wait_agent(self, boot_timeout):
        end = time.monotonic() + boot_timeout
        while True:
            try:
                self.qga.connect(min(5, max(1, end - time.monotonic())))
                break
            except VMError:
                if self.proc.poll() is not None:
                    raise QemuExited("QEMU exited during boot; console tail:\n" + self.console_tail())
                if time.monotonic() >= end:
                    raise VMError("guest did not come up; " + self._hung_boot_report())

    def _hung_boot_report(self, grace_s=150):
        """What a boot that missed its timeout was doing: the vCPU's registers
        (is it in the kernel's idle loop, waiting on userspace, or spinning),
        the console (systemd.show_status=auto names a start job that runs
        long), and, if the guest agent comes up within grace_s (a unit that
        held the boot until its own start timeout), the boot's journal."""
        parts = []
        for i in range(2):
            try:
                regs = self.qmp.cmd("human-monitor-command", **{"command-line": "info registers"})
                parts.append(f"vCPU registers ({i + 1}/2): " + " ".join(
                    l for l in str(regs).splitlines() if l.startswith("RIP=")))
            except Exception as e:   # noqa: BLE001 - best effort on a broken guest
                parts.append(f"(vCPU registers unavailable: {e})")
            time.sleep(1)
        parts.append("console tail:\n" + self.console_tail())
        end = time.monotonic() + grace_s
        while time.monotonic() < end and self.proc.poll() is None:
            try:
                self.qga.connect(5)
            except VMError:
                continue
            parts.append(f"the guest agent came up late; this boot's journal (tail):\n"
                         + "\n".join(self.journal().splitlines()[-150:]))
            break
        else:
            parts.append(f"(the guest agent did not come up within {grace_s} s more either)")
        return "\n".join(parts)

    def _arm_watchdog(self):
        proc = self.proc

        def kill():
            if proc.poll() is None:
                proc.kill()
        self._watchdog = threading.Timer(self.timeout_s, kill)
        self._watchdog.daemon = True
        self._watchdog.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        if self._watchdog:
            self._watchdog.cancel()
        if self.qga:
            self.qga.close()
        if self.qmp:
            self.qmp.close()
        if self.proc:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    def power_cut(self):
        """Pull the plug: SIGKILL QEMU. Writes the guest had not flushed to the
        qcow2 root may be lost; raw data disks keep what QEMU had written."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def shutdown(self, timeout=60):
        if not self.running():
            self._reap()
            return
        self._systemctl("poweroff")
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._reap()

    def _systemctl(self, verb):
        """Clean shutdown through systemd itself (qemu-ga's guest-shutdown goes
        through shutdown(8), which needs logind; the test guest masks it)."""
        try:
            self.qga.exec(["systemctl", "--no-block", verb], timeout=30)
        except (VMError, OSError):
            pass   # the channel may close under us

    def reboot(self, **kw):
        """Clean reboot: QEMU runs with -no-reboot, so a guest reboot exits QEMU;
        start it again on the same disks (attached disks stay attached)."""
        attached = [d for d in self.disks.values() if d.port is not None]
        self._systemctl("reboot")
        try:
            self.proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            raise VMError("guest did not reboot within 180s; console tail:\n" + self.console_tail())
        self._reap()
        return self.start(cold_disks=attached, **kw)

    def kill(self):
        self.power_cut()

    # ---- commands ----------------------------------------------------------
    def run(self, argv, stdin=None, timeout=120, check=True):
        """Run argv in the guest; returns (rc, stdout, stderr)."""
        if isinstance(argv, str):
            argv = [argv]
        rc, out, err = self.qga.exec(argv, stdin=stdin, timeout=timeout)
        if check and rc != 0:
            raise CommandFailed(argv, rc, out, err)
        return rc, out, err

    def sh(self, script, timeout=120, check=True, stdin=None):
        """Test-side convenience: run a shell snippet (tests only, never product code)."""
        rc, out, err = self.run(["/bin/sh", "-ec", script], stdin=stdin, timeout=timeout, check=check)
        return out if check else (rc, out, err)

    def wait_for(self, script, timeout=30, interval=0.2):
        """Poll a shell condition in the guest until it exits 0 (every
        `interval` seconds at first, then backing off: see backoff)."""
        end = time.monotonic() + timeout
        sleeps = backoff(interval)
        while True:
            rc, out, err = self.run(["/bin/sh", "-c", script], check=False, timeout=max(10, timeout))
            if rc == 0:
                return out
            if time.monotonic() > end:
                raise VMError(f"condition not met in {timeout}s: {script}\n{out}{err}")
            time.sleep(next(sleeps))

    def wait_while_progressing(self, script, progress, stall=60, limit=900):
        """Poll `script` until it exits 0, for as long as the output of the shell
        snippet `progress` keeps changing: fail once it has not changed for
        `stall` seconds (a hung writer), or after `limit` seconds in all. A slow
        host only makes the wait longer; a stuck guest still fails."""
        start = time.monotonic()
        last, changed = None, start
        while True:
            rc, out, err = self.run(["/bin/sh", "-c", script], check=False, timeout=30)
            if rc == 0:
                return out
            now = time.monotonic()
            mark = self.run(["/bin/sh", "-c", progress], check=False, timeout=30)[1]
            if mark != last:
                last, changed = mark, now
            if now - changed > stall or now - start > limit:
                raise VMError(f"condition not met: {script}\n(progress {progress!r} stayed at "
                              f"{last.strip()!r} for {now - changed:.0f} s; {now - start:.0f} s in all)")
            time.sleep(1)

    def write_file(self, path, data, mode="0644"):
        self.run(["/bin/sh", "-ec", f'cat > "$1"; chmod {mode} "$1"', "sh", path], stdin=data)

    def journal(self):
        try:
            return self.run(["journalctl", "-b", "--no-pager", "-o", "short-monotonic"],
                            check=False, timeout=30)[1]
        except Exception as e:   # noqa: BLE001 - best effort on a broken guest
            return f"(journal unavailable: {e})"

    def console_tail(self, n=60):
        logs = sorted(f for f in os.listdir(self.workdir) if f.startswith("console."))
        if not logs:
            return ""
        with open(os.path.join(self.workdir, logs[-1]), errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def qemu_log(self):
        try:
            with open(os.path.join(self.workdir, f"qemu.{self.boots - 1}.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""
