"""pytest fixtures for the VM test bed."""
import os
import re
import resource
import shutil
import sys
import time

import pytest

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


def failure_digest(journal, tail=25):
    """A failed test's guest journal in a few lines for CI's output: the kernel's
    storage trouble (if any) and the last lines the dmscale units logged."""
    lines = journal.splitlines()
    trouble = [ln for ln in lines if " kernel: " in ln and KERNEL_TROUBLE.search(ln)]
    ours = [ln for ln in lines if "dmscale" in ln]
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


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=expected_s, reverse=True)
