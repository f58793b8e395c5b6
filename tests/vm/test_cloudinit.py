"""End to end: the shipped launch template's user data on a first boot.

The guest boots an image WITHOUT dmscale installed, with Debian's cloud-init
enabled and a NoCloud seed (a vfat disk labelled CIDATA) carrying
ec2/launch-template/user-data.mime verbatim, except for the CloudFormation
parameters: ${PackageUrl} becomes a local path to the .deb that `make deb`
built (copied into the image: the guest has no route to S3 or the archive),
${PoolName} becomes "scratch". The data volume of the launch template is a
cold-plugged NVMe disk whose serial is its volume id; the EC2/IMDS simulator
maps it to /dev/xvdba (DescribeInstances), as EC2 does, so `dmscale init
/dev/xvdba` resolves it through the EC2 API like on an instance without the
NVMe vendor data. Docker is enabled in the image, as on a Batch AMI.

Checked after first boot: cloud-init done without errors, the package
installed from the .deb, the pool active and mounted at /var/lib/docker
before Docker started (nothing below the mount point on the root fs, Docker's
root dir on the pool), the assemble unit enabled, the daemon enabled and
running with the user data's config.

A second boot: dmscale-assemble brings the pool back, the user data's
`dmscale init` finds it labelled (no mkfs, no reinstall, labels unchanged).

Then the package's life cycle on the live pool: upgrade to a newer version
(the daemon restarts, assemble is not re-run, the table/labels/data do not
change), and purge (configuration and state gone, nothing of the package
left, the pool still mounted with its labels, table and data unchanged).

The .deb: $DMSCALE_DEB if set; under `make check` on a clean tree, the one
check-fresh built from this commit (it may still be running: the test waits
for $DMSCALE_DEB_READY); else build/deb/dmscale_VERSION_*.deb, rebuilt with
`make deb` when missing or older than its sources.
Timings are printed, never asserted.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import vm as vmlib
from ec2bed import EC2_URL, Bed
from helpers import GIB, check_payload, write_payload

LT_DIR = os.path.join(vmlib.PROJECT, "ec2", "launch-template")
GUEST_DEB = "/var/cache/dmscale-testbed/dmscale.deb"
DEB_SOURCES = ["Makefile", "README.md", "debian", "docs", "dmscale", "ec2", "kmod-helpers", "man",
               "systemd", "udev-rules"]


# ---------------------------------------------------------------- host side
def project_version():
    with open(os.path.join(vmlib.PROJECT, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def newest_source_mtime():
    newest = 0.0
    for s in DEB_SOURCES:
        p = os.path.join(vmlib.PROJECT, s)
        if os.path.isfile(p):
            newest = max(newest, os.path.getmtime(p))
        for d, _, files in os.walk(p):
            for n in files:
                newest = max(newest, os.path.getmtime(os.path.join(d, n)))
    return newest


def package():
    """Path of the .deb to test (built if missing or stale)."""
    if os.environ.get("DMSCALE_DEB"):
        return os.environ["DMSCALE_DEB"]
    ready = os.environ.get("DMSCALE_DEB_READY")
    if ready:
        # `make check` on a clean tree: check-fresh, still running, builds this
        # commit's package and names the commit in READY once it is in build/deb
        end = time.monotonic() + 1800
        while not os.path.exists(ready):
            assert time.monotonic() < end, f"check-fresh's package never came ({ready})"
            time.sleep(2)
        head = subprocess.run(["git", "-C", vmlib.PROJECT, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        with open(ready) as f:
            assert f.read().strip() == head, f"{ready} names another commit than HEAD {head}"
        debs = glob.glob(os.path.join(vmlib.BUILD, "deb", f"dmscale_{project_version()}_*.deb"))
        assert len(debs) == 1, debs
        return debs[0]
    pattern = os.path.join(vmlib.BUILD, "deb", f"dmscale_{project_version()}_*.deb")
    debs = glob.glob(pattern)
    if not debs or os.path.getmtime(debs[0]) < newest_source_mtime():
        subprocess.run(["make", "-s", "-C", vmlib.PROJECT, "deb"], check=True, stdout=subprocess.DEVNULL)
        debs = glob.glob(pattern)
    assert len(debs) == 1, debs
    return debs[0]


def upgraded_package(deb, workdir):
    """The same package with a higher version: a real upgrade path for dpkg."""
    tree = os.path.join(workdir, "upgrade-tree")
    subprocess.run(["dpkg-deb", "-R", deb, tree], check=True)
    ctl = os.path.join(tree, "DEBIAN", "control")
    with open(ctl) as f:
        text = f.read()
    version = re.search(r"^Version: (\S+)$", text, re.M).group(1) + "+testbed1"
    with open(ctl, "w") as f:
        f.write(re.sub(r"^Version: .*$", f"Version: {version}", text, flags=re.M))
    out = os.path.join(workdir, "dmscale-upgrade.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", tree, out], check=True,
                   stdout=subprocess.DEVNULL)
    return out, version


def user_data(package_url, pool="scratch"):
    """user-data.mime with the CloudFormation parameters substituted (Fn::Sub)."""
    with open(os.path.join(LT_DIR, "user-data.mime")) as f:
        text = f.read()
    params = {"PackageUrl": package_url, "PoolName": pool}
    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: params[m.group(1)], text)


def _enable(stage, target_wants, unit):
    d = os.path.join(stage, "etc/systemd/system", target_wants)
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, unit)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(f"/lib/systemd/system/{unit}", link)


def _write(stage, path, text, mode=0o644):
    p = os.path.join(stage, path.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if os.path.lexists(p):
        os.unlink(p)          # never write through a hard link into the cached rootfs
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)


def build_cloudinit_image(out_img, deb, size_gib=3):
    """Cached base rootfs + cloud-init enabled + the .deb as a file; dmscale is
    NOT installed. Private work paths, atomic rename (as vm.build_installed_image)."""
    t0 = time.monotonic()
    stage = f"{out_img}.stage.{os.getpid()}"
    tmp_img = f"{out_img}.tmp.{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    subprocess.run(["cp", "-al", os.path.realpath(vmlib.ROOTFS), stage], check=True)
    vmlib.tune_guest(stage)
    os.unlink(os.path.join(stage, "etc/cloud/cloud-init.disabled"))
    # The network as an EC2 instance has it at boot: networkd, and
    # network-online waits for DHCP (cloud-init.service orders itself after it).
    wait_online = os.path.join(stage, "etc/systemd/system/systemd-networkd-wait-online.service")
    if os.path.islink(wait_online):
        os.unlink(wait_online)      # unmask
    _enable(stage, "multi-user.target.wants", "systemd-networkd.service")
    _enable(stage, "sockets.target.wants", "systemd-networkd.socket")
    _enable(stage, "network-online.target.wants", "systemd-networkd-wait-online.service")
    # Docker enabled, as on a Batch AMI: it must find the pool already mounted.
    _enable(stage, "multi-user.target.wants", "docker.service")
    _enable(stage, "multi-user.target.wants", "containerd.service")
    _enable(stage, "sockets.target.wants", "docker.socket")
    # cloud-init: only the NoCloud seed; the image's own networkd file stays
    # (the QEMU user network is not EC2's: no cloud-init network rendering);
    # the minbase image has no locales package and no ssh server, which a
    # Debian cloud image has: skip those modules instead of failing them.
    _write(stage, "/etc/cloud/cloud.cfg.d/90-testbed.cfg",
           "datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\n"
           "locale: false\nssh_genkeytypes: []\nssh_deletekeys: false\n")
    # Test-bed plumbing, in place of DNS for ec2.REGION.amazonaws.com: the EC2
    # endpoint is the simulator (IMDS is at its real address, forwarded).
    for unit in ("cloud-init.service", "dmscale-daemon.service"):
        _write(stage, f"/etc/systemd/system/{unit}.d/testbed.conf",
               f"[Service]\nEnvironment=AWS_ENDPOINT_URL_EC2={EC2_URL}\n")
    dest = os.path.join(stage, GUEST_DEB.lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copyfile(deb, dest)
    for p in ("usr/sbin/dmscale", "lib/systemd/system/dmscale-assemble.service"):
        assert not os.path.exists(os.path.join(stage, p)), f"{p} must come from the package"
    if os.path.exists(tmp_img):
        os.unlink(tmp_img)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", stage, tmp_img, f"{size_gib}G"], check=True)
    os.replace(tmp_img, out_img)
    shutil.rmtree(stage)
    return time.monotonic() - t0


def make_seed(path, userdata, instance_id):
    """NoCloud seed: a vfat filesystem labelled CIDATA with user-data and meta-data."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "user-data"), "w") as f:
            f.write(userdata)
        with open(os.path.join(d, "meta-data"), "w") as f:
            f.write(f"instance-id: {instance_id}\nlocal-hostname: dmscale-batch\n")
        if os.path.exists(path):
            os.unlink(path)
        subprocess.run(["mkfs.vfat", "-C", "-n", "CIDATA", path, "2048"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["mcopy", "-i", path, os.path.join(d, "user-data"), os.path.join(d, "meta-data"), "::"],
                       check=True)


def with_seed(vm, seed):
    """Add the seed as a read-only virtio disk (not NVMe: it is no EBS volume)."""
    orig = vm._argv

    def argv(cold, **kw):
        return orig(cold, **kw) + ["-drive", f"file={seed},if=none,id=cidata,format=raw,readonly=on",
                             "-device", "virtio-blk-pci,drive=cidata"]
    vm._argv = argv


# ---------------------------------------------------------------- guest side
def unit_prop(vm, unit, prop):
    return vm.sh(f"systemctl show -P {prop} {unit}").strip()


def label_sum(vm, dev):
    """Both label copies (first 128 KiB) of a member."""
    return vm.sh(f"dd if={dev} bs=64K count=2 iflag=direct status=none | sha256sum").split()[0]


def package_files_left(vm):
    """Anything named dmscale on the root fs, except the test bed's own files
    (the .deb, cloud-init's semaphores and logs, our drop-ins)."""
    out = vm.sh("find / -xdev -name '*dmscale*' "
                "-not -path '/var/cache/dmscale-testbed*' -not -path '/var/lib/cloud/*' "
                "-not -path '/etc/systemd/system/dmscale-daemon.service.d*' -print || true")
    return sorted(x for x in out.split("\n") if x)


@pytest.fixture(scope="module")
def cloudinit_image():
    deb = package()
    img = os.path.join(vmlib.VMDIR, "cloudinit.img")
    secs = build_cloudinit_image(img, deb)
    print(f"\n[cloud-init] image with {os.path.basename(deb)} built in {secs:.1f}s", file=sys.stderr)
    return img, deb


class _BootWatchingAgent(vmlib.GuestAgent):
    """Gives up on the guest agent as soon as QEMU has exited (a guest that
    panicked during boot), instead of waiting out the whole boot timeout."""
    proc = None

    def connect(self, timeout):
        end = time.monotonic() + timeout
        while True:
            try:
                return super().connect(min(10, max(1, end - time.monotonic())))
            except vmlib.VMError:
                if self.proc is not None and self.proc.poll() is not None:
                    raise vmlib.VMError("QEMU exited during boot")
                if time.monotonic() >= end:
                    raise


class CloudInitVM(vmlib.VM):
    def start(self, *a, **kw):
        orig = vmlib.GuestAgent
        me = self

        class Agent(_BootWatchingAgent):
            @property
            def proc(self):
                return me.proc
        vmlib.GuestAgent = Agent       # only while this VM boots
        try:
            return super().start(*a, **kw)
        finally:
            vmlib.GuestAgent = orig


def boot(vm, cold, attempts=3):
    """First power-on. Under an overloaded TCG host the kernel's IO-APIC timer
    check can fail and panic at 0.05 s (before any disk is touched):
    no_timer_check avoids it; should a boot still die that early, power on again."""
    for i in range(attempts):
        try:
            return vm.start(cold_disks=cold, boot_timeout=600)
        except vmlib.VMError as e:
            tail = vm.console_tail(20)
            vm.kill()
            if "Kernel panic" not in tail or i == attempts - 1:
                raise vmlib.VMError(f"{e}\n{tail}")
            print(f"\n[cloud-init] boot {i + 1} panicked early ({tail.strip().splitlines()[-1][:80]}), "
                  "powering on again", file=sys.stderr)


def test_user_data_first_boot_then_package_lifecycle(cloudinit_image, tmp_path):
    img, deb = cloudinit_image
    work = str(tmp_path)
    vms = []

    def make_vm(**kw):
        v = CloudInitVM(os.path.join(work, "vm"), img, timeout_s=1800, cmdline_extra="no_timer_check", **kw)
        vms.append(v)
        return v

    b = Bed(make_vm)
    try:
        _run(b, deb, work)
    except BaseException:
        if vms and vms[0].running():
            dest = os.path.join(vmlib.BUILD, "vm-logs", "test_cloudinit")
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            with open(os.path.join(dest, "journal.txt"), "w") as f:
                f.write(vms[0].journal())
            for n in os.listdir(vms[0].workdir):
                if n.startswith(("console.", "qemu.")):
                    shutil.copy(os.path.join(vms[0].workdir, n), dest)
            print(f"\n[cloud-init] logs kept in {dest}", file=sys.stderr)
        raise
    finally:
        for v in vms:
            v.kill()
        b.stop()


def _run(b, deb, work):
    vm, sim = b.vm, b.sim
    # the launch template's data volume, mapped at /dev/xvdba like EC2 does
    data = vm.new_disk(16 * GIB)
    with sim.lock:
        sim.bdm["/dev/xvdba"] = {"volume": data.volume_id, "dot": True, "state": "attached"}
    seed = os.path.join(work, "seed.img")
    make_seed(seed, user_data(GUEST_DEB), sim.instance_id)
    with_seed(vm, seed)

    # ---- first boot
    t0 = time.monotonic()
    boot(vm, [data])
    t_agent = time.monotonic() - t0
    rc, out, err = vm.run(["cloud-init", "status", "--wait", "--long"], check=False, timeout=1200)
    t_cloudinit = time.monotonic() - t0
    assert rc == 0 and "status: done" in out, out + err + vm.sh("tail -n 60 /var/log/cloud-init-output.log || true")
    logs = vm.sh("cat /var/log/cloud-init-output.log; journalctl -b -o cat -u cloud-init.service")
    result = json.loads(vm.sh("cat /run/cloud-init/result.json"))["v1"]
    assert result["errors"] == [] and "NoCloud" in result["datasource"], (result, logs[-4000:])
    # installed from the .deb by the user data, not by the image
    ver = vm.sh("dpkg-query -W -f '${Status} ${Version}' dmscale")
    assert ver.startswith("install ok installed "), ver
    # `dmscale init /dev/xvdba`: resolved through EC2's block device mapping
    dev = vm.sh(f"for c in /sys/class/nvme/nvme*; do [ \"$(tr -d ' ' < $c/serial)\" = \"{data.serial}\" ] "
                "&& ls -d $c/nvme*n1 | sed 's,.*/,/dev/,'; done").strip()
    assert f"/dev/xvdba: resolved to {dev} (EC2 block device mapping: {data.volume_id})" in logs, logs[-4000:]
    st = json.loads(vm.sh("dmscale status --json"))
    assert st["state"] == "active" and st["mountpoint"] == "/var/lib/docker", st
    assert [(m["volume_id"], m["device"]) for m in st["members"]] == [(data.volume_id, dev)], st
    src = vm.sh("findmnt -n -o SOURCE /var/lib/docker").strip()
    assert src == "/dev/mapper/dmscale-scratch", src
    t_pool = time.monotonic() - t0
    # the pool was there before Docker: Docker's files are on it, nothing underneath
    vm.wait_for("systemctl is-active -q docker.service", timeout=600, interval=1)
    assert vm.sh("docker info -f '{{.DockerRootDir}}'").strip() == "/var/lib/docker"
    assert vm.sh("ls /var/lib/docker").split(), "Docker wrote nothing to the pool?"
    under = vm.sh("mkdir -p /mnt/rootfs && mount --bind / /mnt/rootfs && ls -A /mnt/rootfs/var/lib/docker; "
                  "umount /mnt/rootfs").split()
    assert under == [], f"written to the root fs below the mount point: {under}"
    # units: assemble enabled for the next boots, the daemon enabled and running
    assert vm.sh("systemctl is-enabled dmscale-assemble.service").strip() == "enabled"
    assert vm.sh("systemctl is-enabled dmscale-daemon.service").strip() == "enabled"
    vm.wait_for("journalctl -u dmscale-daemon -o cat | grep -q 'watching /var/lib/docker'", timeout=300,
                interval=1)
    conf = json.loads(vm.sh("cat /etc/dmscale/dmscale.json"))
    assert conf["pool"] == "scratch" and conf["encrypted"] is True
    assert sim.violations == [], sim.violations
    with sim.lock:
        acts = [a for a, _ in sim.calls]
    assert "DescribeInstances" in acts and "CreateVolume" not in acts, acts   # 16 GiB free: nothing to add
    jl = vm.sh("journalctl -b -o short-monotonic --no-pager | "
               "grep -e 'ext4 mounted at /var/lib/docker' -e 'Started docker.service' || true")
    g = {k: float(m.group(1)) for k, pat in (("mounted", r"\[\s*([\d.]+)\].*ext4 mounted at"),
                                             ("docker", r"\[\s*([\d.]+)\].*Started docker.service"))
         for m in [re.search(pat, jl)] if m}
    print(f"\n[cloud-init] first boot (host view): guest agent up {t_agent:.0f}s, cloud-init done "
          f"{t_cloudinit:.0f}s, pool checked {t_pool:.0f}s after power-on; guest clock: pool mounted "
          f"{g.get('mounted', -1):.0f}s, docker started {g.get('docker', -1):.0f}s after kernel start; "
          f"EC2 calls: {sorted(set(acts))}")
    assert g.get("mounted", 0) < g.get("docker", 1e9)

    # ---- second boot: dmscale-assemble mounts the pool before docker; the user
    # data's `dmscale init` finds it labelled and active (no mkfs); no reinstall
    write_payload(vm, mib=16)
    table = vm.sh("dmsetup table dmscale-scratch")
    labels = label_sum(vm, dev)
    t1 = time.monotonic()
    vm.reboot(boot_timeout=600)
    rc, out, err = vm.run(["cloud-init", "status", "--wait", "--long"], check=False, timeout=1200)
    result = json.loads(vm.sh("cat /run/cloud-init/result.json"))["v1"]
    assert rc == 0 and result["errors"] == [], (out, err, result,
                                                vm.sh("journalctl -b -o cat -u cloud-init.service"))
    assert vm.sh("systemctl is-active dmscale-assemble.service").strip() == "active"
    assert vm.sh("findmnt -n -o SOURCE /var/lib/docker").strip() == "/dev/mapper/dmscale-scratch"
    ci = vm.sh("journalctl -b -o cat -u cloud-init.service")
    assert "running mkfs" not in ci and "Setting up dmscale" not in ci, ci[-3000:]
    assert check_payload(vm)
    dev = vm.sh(f"for c in /sys/class/nvme/nvme*; do [ \"$(tr -d ' ' < $c/serial)\" = \"{data.serial}\" ] "
                "&& ls -d $c/nvme*n1 | sed 's,.*/,/dev/,'; done").strip()
    assert label_sum(vm, dev) == labels, "labels rewritten by assembly or init of a consistent pool"
    # the same table, over the member's device number of this boot
    majmin = vm.sh(f"lsblk -dno MAJ:MIN {dev}").strip()
    assert vm.sh("dmsetup table dmscale-scratch") == re.sub(r"\b\d+:\d+\b", majmin, table)
    table = vm.sh("dmsetup table dmscale-scratch")
    vm.wait_for("systemctl is-active -q dmscale-daemon.service docker.service", timeout=600, interval=1)
    print(f"[cloud-init] second boot: pool reassembled, cloud-init done {time.monotonic() - t1:.0f}s after reboot")

    # ---- upgrade on the live pool
    assemble_t = unit_prop(vm, "dmscale-assemble.service", "ActiveEnterTimestampMonotonic")
    daemon_pid = unit_prop(vm, "dmscale-daemon.service", "MainPID")
    up, up_version = upgraded_package(deb, work)
    with open(up, "rb") as f:
        vm.write_file("/root/dmscale-upgrade.deb", f.read())
    vm.run(["dpkg", "-i", "/root/dmscale-upgrade.deb"], timeout=300)
    vm.run(["rm", "/root/dmscale-upgrade.deb"])
    assert vm.sh("dpkg-query -W -f '${Version}' dmscale").strip() == up_version
    vm.wait_for("systemctl is-active -q dmscale-daemon.service", timeout=120)
    assert unit_prop(vm, "dmscale-daemon.service", "MainPID") != daemon_pid, "daemon not restarted on upgrade"
    assert unit_prop(vm, "dmscale-assemble.service", "ActiveEnterTimestampMonotonic") == assemble_t, \
        "dmscale-assemble re-run on upgrade"
    assert vm.sh("systemctl is-enabled dmscale-assemble.service dmscale-daemon.service").split() == \
        ["enabled", "enabled"]
    assert vm.sh("dmsetup table dmscale-scratch") == table
    assert label_sum(vm, dev) == labels
    assert check_payload(vm)

    # ---- purge: no mess, the pool untouched
    vm.run(["dpkg", "--purge", "dmscale"], timeout=300)
    assert vm.sh("dpkg-query -W -f '${Status}' dmscale 2>/dev/null || true").strip() in ("", "unknown ok not-installed")
    for p in ("/etc/dmscale", "/etc/default/dmscale", "/var/lib/dmscale", "/run/dmscale", "/usr/sbin/dmscale"):
        assert vm.sh(f"test -e {p} && echo present || echo absent").strip() == "absent", p
    assert package_files_left(vm) == []
    assert vm.sh("systemctl is-active dmscale-daemon.service || true").strip() in ("inactive", "unknown")
    assert vm.sh("findmnt -n -o SOURCE /var/lib/docker").strip() == "/dev/mapper/dmscale-scratch"
    assert vm.sh("dmsetup table dmscale-scratch") == table
    assert label_sum(vm, dev) == labels
    assert check_payload(vm)
    with sim.lock:
        assert not any(a in ("DetachVolume", "DeleteVolume") for a, _ in sim.calls)
    print(f"[cloud-init] upgrade to {up_version} and purge: pool table, labels and data unchanged")
