"""pytest fixtures for the VM test bed."""
import os
import re
import resource
import shutil
import sys
import time

import pytest
from _pytest.runner import runtestprotocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prep  # noqa: E402
import vm as vmlib  # noqa: E402

LOGDIR = os.path.join(vmlib.BUILD, "vm-logs")


@pytest.fixture(scope="session")
def base_image():
    """The guest image with this checkout installed, and its saved booted guest:
    `make check-vm` builds both once for all workers (tests/vm/prep.py) and
    names them in $DMSCALE_VM_PREPARED; a session started without it builds its own."""
    prepared = os.environ.get("DMSCALE_VM_PREPARED")
    if prepared:
        yield prep.load(prepared)
        return
    # One image per session: VM overlays name their backing file by path and
    # reopen it after a power cut, so another session must never replace it.
    d = os.path.join(vmlib.VMDIR, f"prep.{os.getpid()}")
    prep.build(d)
    img = prep.load(d)
    yield img
    vmlib.TEMPLATES.pop(img, None)
    shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _cpu_s():
    """CPU seconds of this worker and of its reaped children (QEMU, nbdkit, tools)."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """One line per test in build/vm-logs/cpu.tsv (test, host CPU s, wall s,
    setup through teardown): the VM stage is CPU-bound on CI's 2 cores, so the
    CPU a test burns, not its wall time, is what it costs the suite (issue 11)."""
    c0, t0 = _cpu_s(), time.monotonic()
    yield
    vmlib.record_figure("cpu.tsv", item.nodeid, f"{_cpu_s() - c0:.1f}", f"{time.monotonic() - t0:.1f}")


# kernel lines that say the storage under a test misbehaved (an emulated disk
# that stopped answering, a hung task), as opposed to the product failing
KERNEL_TROUBLE = re.compile(r"nvme\S*: .*(timeout|abort|reset|disabl)|blk_update_request|"
                            r"I/O error|blocked for more than|device-mapper: .*error", re.I)


# An emulated NVMe command that never completed: QEMU's controller (or the
# host under it) stopped answering, which nothing in the guest can cause.
# Seen in CI on data disks (hot-plugged or cold), once on a root disk.
TESTBED_FAULT = re.compile(r": nvme nvme\d+: I/O \d+ .*QID \d+ timeout")
RETRIES = os.path.join(LOGDIR, "testbed-retries.txt")


def testbed_fault(journal):
    """The first emulated-NVMe timeout line in a guest journal, or None."""
    m = TESTBED_FAULT.search(journal)
    if not m:
        return None
    start = journal.rfind("\n", 0, m.start()) + 1
    end = journal.find("\n", m.end())
    return journal[start:end if end >= 0 else len(journal)].strip()


def xdist_group(item):
    """The test's xdist_group (its tests share one guest and one worker), or None."""
    return next((m.args[0] for m in item.iter_markers("xdist_group") if m.args), None)


def retryable(item):
    """A test whose failure may be retried once for a test-bed fault: not the
    groups whose disks hang or fail on purpose (hostile, powercut)."""
    return xdist_group(item) not in ("hostile", "powercut")


class TestbedRetry:
    """The retry below, as a plugin of its own: this module's
    pytest_runtest_protocol is the CPU accounting's hookwrapper, and a second
    function of that name here would replace it (it did: cpu.tsv went empty)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """Run the test; if it failed and its guest logged an emulated-NVMe
        timeout (TESTBED_FAULT), run it once more, saying so in the output
        (build/vm-logs/testbed-retries.txt and the summary). A product failure
        fails both runs; only the first run's reports are dropped."""
        if not retryable(item):
            return None
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for attempt in (1, 2):
            item.testbed_fault = None
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            if attempt == 1 and item.testbed_fault and any(r.failed for r in reports):
                os.makedirs(LOGDIR, exist_ok=True)
                with open(RETRIES, "a") as f:
                    f.write(f"{item.nodeid}\t{item.testbed_fault}\n")
                continue
            for r in reports:
                if attempt == 2:
                    r.sections.append(("test-bed retry", "the first run failed after an emulated-NVMe "
                                       "timeout; this is the second run"))
                item.ihook.pytest_runtest_logreport(report=r)
            break
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True


FRESH_DEB_LATE = "DMSCALE_VM_FRESH_DEB_LATE"   # see pytest_collection_modifyitems


def pytest_configure(config):
    config.pluginmanager.register(TestbedRetry(), "dmscale-testbed-retry")
    # Decided once, by the controller, before its workers start (they inherit
    # the environment): each worker sorts its own collection, and xdist stops
    # the run when two workers' orders differ, as they would if check-fresh's
    # package arrived between their collections.
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        ready = os.environ.get("DMSCALE_DEB_READY")
        os.environ[FRESH_DEB_LATE] = "1" if ready and not os.path.exists(ready) else ""


def pytest_sessionstart(session):
    if not os.environ.get("PYTEST_XDIST_WORKER") and os.path.exists(RETRIES):
        os.unlink(RETRIES)


def pytest_terminal_summary(terminalreporter):
    if os.path.exists(RETRIES) and not os.environ.get("PYTEST_XDIST_WORKER"):
        with open(RETRIES) as f:
            lines = [ln.rstrip("\n").split("\t", 1) for ln in f if ln.strip()]
        terminalreporter.section("test-bed retries (emulated NVMe stopped answering)")
        for nodeid, line in lines:
            terminalreporter.write_line(f"{nodeid}: retried once after: {line}")


# a line logged by a dmscale process, or by systemd about a dmscale unit (the
# guest's host name is dmscale-test: not enough)
DMSCALE_LINE = re.compile(r"\] \S+ (dmscale[\w@.-]*(\[\d+\])?: |systemd\[1\]: .*dmscale)")


def failure_digest(journal, tail=25):
    """A failed test's guest journal in a few lines for CI's output: the kernel's
    storage trouble (if any) and the last lines the dmscale units logged."""
    lines = journal.splitlines()
    trouble = [ln for ln in lines if " kernel: " in ln and KERNEL_TROUBLE.search(ln)]
    ours = [ln for ln in lines if DMSCALE_LINE.search(ln)]
    out = [f"{len(trouble)} kernel storage warning(s)"] + trouble[:10]
    out += [f"last {min(tail, len(ours))} dmscale journal lines:"] + ours[-tail:]
    return "\n".join(out)


@pytest.fixture
def make_vm(request, base_image, tmp_path_factory):
    """Factory: make_vm(**kw) -> vmlib.VM, always killed at the end. Logs of a
    failed test (console, QEMU, journal) are kept under build/vm-logs/TEST/."""
    vms = []
    workdir = str(tmp_path_factory.mktemp(request.node.name[:40]))

    def factory(**kw):
        d = os.path.join(workdir, f"vm{len(vms)}")
        v = vmlib.VM(d, base_image, **kw)
        vms.append(v)
        return v

    yield factory
    failed = any(getattr(request.node, "rep_" + w, None) is not None and
                 getattr(request.node, "rep_" + w).failed for w in ("setup", "call"))
    for i, v in enumerate(vms):
        if failed and v.running():
            journal = v.journal()
            with open(os.path.join(v.workdir, "journal.txt"), "w") as f:
                f.write(journal)
            print(f"\n[bed] vm{i}: {failure_digest(journal)}", file=sys.stderr)
            request.node.testbed_fault = getattr(request.node, "testbed_fault", None) or testbed_fault(journal)
        v.kill()
    if failed:
        dest = os.path.join(LOGDIR, request.node.name)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(workdir, dest, ignore=shutil.ignore_patterns("*.img", "*.qcow2", "*.sock"))
        print(f"\n[bed] logs kept in {dest}", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def vm(make_vm):
    """A booted VM with nothing attached."""
    v = make_vm()
    v.start()
    return v


@pytest.fixture
def bed(make_vm):
    """Factory: bed(**simkw) -> ec2bed.Bed, an EC2/IMDS simulator wired to a new VM."""
    from ec2bed import Bed
    beds = []

    def factory(**simkw):
        b = Bed(make_vm, **simkw)
        beds.append(b)
        return b
    yield factory
    for b in beds:
        b.stop()


# Longest first: with two or three workers the suite's wall time is set by how
# the long tests pack, so they start first (times seen in CI runs, seconds;
# a test not listed counts as 60).
EXPECTED_S = {
    "test_bench_smoke.py": 400, "test_cloudinit.py": 420, "test_docker.py": 240,
    "test_powercut.py": 560, "test_thin.py::test_thin_power_cut": 120,
    "test_crash.py::test_power_cut_at_attach_steps": 120, "test_thin_daemon.py": 250,
    "test_hostile.py": 200, "test_daemon_faults.py::test_sigkill": 110,
    "test_instance_store.py": 120, "test_core.py::test_reboot_with_shuffled": 150,
}


def expected_s(item):
    best = None
    for k, v in EXPECTED_S.items():
        if item.nodeid.startswith(k) and (best is None or len(k) > len(best[0])):
            best = (k, v)
    return best[1] if best else 60


# Tests that wait for check-fresh's package ($DMSCALE_DEB_READY, set by `make
# check` on a clean tree). When it is not there as the run starts, check-fresh
# is still running beside the VM tests (on a cold cache it ends some 300 s
# after they start: seen 562 s of wall for 346 s of CPU, a worker idle while
# it waited): such a test goes right after the longest work units, one per
# worker, which take the workers first; it starts once one of them is done.
NEEDS_FRESH_DEB = ("test_cloudinit.py",)


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=expected_s, reverse=True)
    if not os.environ.get(FRESH_DEB_LATE):
        return
    late = [i for i in items if i.nodeid.startswith(NEEDS_FRESH_DEB)]
    rest = [i for i in items if not i.nodeid.startswith(NEEDS_FRESH_DEB)]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    # the longest work units, one per worker (a group counts once: its tests run together)
    head, units = 0, set()
    for i in rest:
        unit = xdist_group(i) or i.nodeid
        if unit not in units and len(units) == workers:
            break
        units.add(unit)
        head += 1
    items[:] = rest[:head] + late + rest[head:]
