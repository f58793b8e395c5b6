"""Shared helpers for dmscale VM tests."""
import json
import time

from vm import backoff

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
    # BLAKE2b: as strong a check of the bytes as SHA-256, ~2.5x faster under TCG
    vm.sh(f"head -c {mib}M /dev/urandom > {mp}/payload; b2sum {mp}/payload > /root/payload.sum; sync")


def check_payload(vm):
    return "OK" in vm.sh("b2sum -c /root/payload.sum")


def mount_id(vm, mp="/var/lib/docker"):
    """The kernel's mount id: unchanged as long as nothing unmounted."""
    return vm.sh(f"awk '$5 == \"{mp}\" {{print $1}}' /proc/self/mountinfo").strip()


def expect_pending(vm, volume_id, name="scratch"):
    """Pend volume_id as the daemon does: under the pending list's lock
    (dmscale/pending.h), since an attach may be rewriting the list (its
    unpend) at the same moment; an append without it could be lost."""
    d = f"/var/lib/dmscale/{name}"
    vm.sh(f"mkdir -p {d}; flock {d}/pending.lock sh -c 'echo {volume_id} >> {d}/pending'")


def wait_settled(vm, n_min=0, timeout=90):
    """The pool with at least n_min members, none pending, and no attach unit
    running (the daemon's appends and udev's have all landed)."""
    end = time.monotonic() + timeout
    pause = backoff(0.5)
    while True:
        st = status(vm)
        busy = vm.sh("systemctl list-units 'dmscale-attach@*' --all --state=activating --no-legend --plain")
        if len(st["members"]) >= n_min and not st["pending"] and not busy.strip():
            return st
        if time.monotonic() > end:
            raise AssertionError(f"pool did not reach {n_min} members: {st}\n" +
                                 vm.sh("journalctl -b -u 'dmscale*' --no-pager -o cat | tail -40"))
        time.sleep(next(pause))


def wait_dot_set(sim, timeout=30):
    """Every volume the simulator has attached is "attached" with
    DeleteOnTermination set. The daemon sets the flag after EC2 reports the
    attachment, which can come after the device already joined the pool (its
    in-process append runs between the waiter's polls), so a settled pool
    alone does not mean a finished provisioning. Returns the volumes that are
    not there yet (empty when all are)."""
    end = time.monotonic() + timeout
    while True:
        with sim.lock:
            behind = {vid: v.attachment for vid, v in sim.volumes.items()
                      if v.attachment and not (v.attachment["state"] == "attached" and v.attachment["dot"])}
        if not behind or time.monotonic() > end:
            return behind
        time.sleep(0.25)


def wait_members(vm, n, name="scratch", timeout=60):
    end = time.monotonic() + timeout
    pause = backoff(0.3)
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
        time.sleep(next(pause))


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
    import fcntl
    # VM tests run in parallel workers (pytest-xdist): read-modify-write under a lock
    with open(path + ".lock", "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        data = {}
        if os.path.exists(path):
            with open(path) as f:
                try:
                    data = json.load(f)
                except ValueError:
                    data = {}
        data[name] = value
        with open(path + ".tmp", "w") as f:
            json.dump(data, f, indent=2)
        os.replace(path + ".tmp", path)


# ---- Docker end-to-end (tests/vm/test_docker.py and the demo) -----------------

def docker_start(vm, timeout=240):
    """Start containerd + docker (disabled at boot in the test image) once the pool
    is mounted at /var/lib/docker, as dmscale-assemble.service orders it in
    production. Returns `docker info` as a dict."""
    # containers run with --network none (the guest has no network for them):
    # no docker0 bridge and no iptables rules, ~20 s less under TCG
    vm.sh("mkdir -p /etc/docker")
    vm.write_file("/etc/docker/daemon.json", '{"bridge": "none", "iptables": false}\n')
    vm.run(["systemctl", "start", "containerd.service", "docker.service"], timeout=timeout)
    _, out, _ = vm.run(["docker", "info", "--format", "{{json .}}"], timeout=120)
    return json.loads(out)


TINY_APPLETS = ("sh", "cat", "date", "df", "du", "echo", "fallocate", "head", "ls", "mkdir", "rm", "sed",
                "sha256sum", "sleep", "sync", "tee", "wc")


def docker_tiny_image(vm, tag="tiny:1"):
    """A one-binary image: /bin/busybox (busybox-static) and its applets as
    relative symlinks, packed in the guest and `docker import`ed (nothing pulled).
    Returns the image size in bytes."""
    vm.sh("rm -rf /root/tiny && mkdir -p /root/tiny/bin /root/tiny/data && "
          "cp /bin/busybox /root/tiny/bin/busybox && "
          f"for a in {' '.join(TINY_APPLETS)}; do ln -s busybox /root/tiny/bin/$a; done && "
          "tar -C /root/tiny -cf /root/tiny.tar . && "
          f"docker import -m 'busybox-static from the guest' /root/tiny.tar {tag} >/dev/null", timeout=180)
    return int(vm.sh(f"docker image inspect -f '{{{{.Size}}}}' {tag}").strip())


# One container: `steps` times, fallocate a `step_mib` MiB file in the
# container's writable layer (overlay2 upperdir on the pool: ext4 allocates
# unwritten extents, nothing is written) and write `real_kib` KiB of random data
# into the shared volume at /data, its sha256 taken from the stream written;
# then pause. Any failed command (ENOSPC) is the exit status and is logged.
# /data/NAME/STEPS: step, guest uptime before fallocate, after it, after the data.
FILLER = r"""
set -o pipefail
n=$1; steps=$2; step=$(($3 * 1048576)); real=$4; pause=$5
mkdir -p /data/$n /fill
: > /data/$n/SHA256SUMS; : > /data/$n/STEPS
i=0
while [ $i -lt $steps ]; do
  i=$((i + 1))
  read t0 x < /proc/uptime
  fallocate -l $step /fill/big.$i || { echo "$n: step $i: fallocate failed" >&2; exit 1; }
  read t1 x < /proc/uptime
  head -c ${real}k /dev/urandom | tee /data/$n/real.$i | sha256sum | sed "s| -\$| real.$i|" >> /data/$n/SHA256SUMS \
    || { echo "$n: step $i: writing real data failed" >&2; exit 1; }
  read t2 x < /proc/uptime
  echo "$i $t0 $t1 $t2" >> /data/$n/STEPS
  if [ $((i % 5)) -eq 0 ] || [ $i -eq $steps ]; then
    echo "$n: step $i/$steps: $((i * $3)) MiB allocated, $((i * real / 1024)) MiB written"
  fi
  sleep $pause
done
sync || exit 1
echo "$n: done"
"""


def docker_run_fillers(vm, n, steps, step_mib, real_kib, pause_s, image="tiny:1", volume="results"):
    """Start n filler containers (detached, no network) at once, and one
    `docker wait` for all of them whose output lands in /root/fillers.wait when
    they have all exited (polling that file is cheaper than running the docker
    CLI under TCG). Returns the containers' names."""
    vm.run(["docker", "volume", "create", volume], timeout=60)
    names = [f"filler{i}" for i in range(1, n + 1)]
    vm.write_file("/root/filler.sh", FILLER)
    vm.sh("rm -f /root/fillers.wait; pids=; for n in " + " ".join(names) + "; do "
          f"docker run -d --name $n --network none -v {volume}:/data -v /root/filler.sh:/filler.sh:ro "
          f"{image} /bin/sh /filler.sh $n {steps} {step_mib} {real_kib} {pause_s} >/dev/null & pids=\"$pids $!\"; "
          "done; rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc", timeout=300)
    vm.run(["systemd-run", "--unit=fillers-wait", "/bin/sh", "-c",
            "docker wait " + " ".join(names) + " > /root/fillers.wait.tmp 2>&1; "
            "mv /root/fillers.wait.tmp /root/fillers.wait"], timeout=60)
    return names


def docker_states(vm, names):
    """{name: (status, exit code)} from docker inspect."""
    _, out, _ = vm.run(["docker", "inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.ExitCode}}"] + names,
                       timeout=60)
    res = {}
    for line in out.split("\n"):
        if line.strip():
            nm, st, rc = line.split()
            res[nm.lstrip("/")] = (st, int(rc))
    return res


def docker_verify_results(vm, names, image="tiny:1", volume="results"):
    """Drop the page cache, then re-read every file of real data from the pool in a
    fresh container and check its sha256. Returns (ok, output)."""
    vm.sh("sync; echo 3 > /proc/sys/vm/drop_caches")
    script = " && ".join(f"(cd /data/{n} && sha256sum -c -s SHA256SUMS && echo {n}: $(wc -l < SHA256SUMS) files OK)"
                         for n in names)
    rc, out, err = vm.run(["docker", "run", "--rm", "--network", "none", "-v", f"{volume}:/data:ro", image,
                           "/bin/sh", "-c", script], timeout=300, check=False)
    return rc == 0, out + err


def dmscale_journal(vm):
    """What an operator reads: journalctl -u dmscale-daemon -u 'dmscale-attach@*'."""
    return vm.sh("journalctl -b --no-pager -o short -u dmscale-daemon -u 'dmscale-attach@*'", timeout=60)


def host_allocated_bytes(vm):
    """(allocated, apparent) bytes of the VM's data disks' sparse backing files."""
    import os
    alloc = size = 0
    for d in vm.disks.values():
        try:
            s = os.stat(d.path)
        except FileNotFoundError:
            continue
        alloc += s.st_blocks * 512
        size += s.st_size
    return alloc, size


def journal_enospc(vm):
    """Journal lines of this boot (kernel, dockerd, containerd, dmscale, ...) that
    report ENOSPC; qemu-ga's echo of the test's own commands is left out."""
    out = vm.sh("journalctl -b --no-pager -o short", timeout=60)
    return [line for line in out.splitlines()
            if ("no space left" in line.lower() or "ENOSPC" in line) and "qemu-ga[" not in line]


def docker_step_times(vm, names, volume="results"):
    """Per step of every filler: (name, step, uptime at start, fallocate seconds,
    real-data seconds), from the STEPS files in the docker volume."""
    rows = []
    for n in names:
        out = vm.sh(f"cat /var/lib/docker/volumes/{volume}/_data/{n}/STEPS")
        for line in out.splitlines():
            i, t0, t1, t2 = line.split()
            rows.append((n, int(i), float(t0), round(float(t1) - float(t0), 2), round(float(t2) - float(t1), 2)))
    return rows


def journal_times(vm, pattern, units="-u 'dmscale-attach@*'"):
    """Monotonic timestamps (guest uptime, seconds) of journal lines matching pattern."""
    out = vm.sh(f"journalctl -b --no-pager -o short-monotonic {units} | grep -e '{pattern}' || true")
    return [float(line.split("]", 1)[0].strip("[ ")) for line in out.splitlines() if line.startswith("[")]


# QEMU's nvme device cannot set the controller model: this rule gives the
# disks with serials AWSTESTIS... the model and vendor of EC2 instance storage,
# as a real instance's udev database shows them (issue 16's tests).
ISTORE_RULE_PATH = "/etc/udev/rules.d/61-test-instance-store.rules"
ISTORE_RULE = """# test: these QEMU disks play EC2 instance storage
ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme*n*", ENV{DEVTYPE}=="disk", \\
  ATTRS{serial}=="AWSTESTIS*", ENV{ID_MODEL}="Amazon EC2 NVMe Instance Storage", ENV{ID_VENDOR_ID}="0x1d0f"
"""
ISTORE_SERIAL_PREFIX = "AWSTESTIS"
