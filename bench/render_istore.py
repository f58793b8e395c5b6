"""Section 11 of docs/BENCHMARKS.md: striped instance-store tier against a single member (issue 16)."""


def _f(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"


def section(res):
    """The markdown of section 11 from results["istore"] (a placeholder if it did not run)."""
    out = ["## 11. Instance-store tier: striped write throughput\n"]
    sec = res.get("istore")
    if not sec:
        err = (res.get("errors") or {}).get("istore")
        out.append("(section did not run" + (f": {err}" if err else "") + "; `bench/bench.py --only istore`)\n")
        return "\n".join(out) + "\n"
    m = res.get("meta", {})
    out.append(
        "Issue 16: a pool whose first tier is the instance's blank instance-store NVMe disks "
        "(`dmscale init --instance-store auto`: dm-stripe over them, then the EBS volume linear) "
        "against a single-member dm-linear pool (`--instance-store off`) on one disk of the same size, "
        f"in one VM ({sec['disk_gib']} GiB sparse disk images; the instance-store disks are QEMU NVMe "
        "disks a udev rule written in the guest gives the EC2 instance-storage model, as in "
        "tests/vm/test_instance_store.py). fio: " + sec["fio"] + f", {sec['write_mib']} MiB from offset 0, "
        f"inside the {sec['stripe_segment_bytes'] >> 20} MiB striped segment; each pool's region is written "
        f"once before the trials; {sec['trials_per_pool']} trials per pool, interleaved A,B,B,A,...\n")
    out.append("| pool | table | MiB/s median | min | max | n |")
    out.append("|---|---|---:|---:|---:|---:|")
    for name, e in sec["pools"].items():
        s = e.get("summary") or {}
        out.append(f"| {name} | {e['desc']} | {_f(s.get('median'))} | {_f(s.get('min'))} | {_f(s.get('max'))} "
                   f"| {s.get('n', 0)} |")
    r = sec.get("striped_over_single")
    out.append(f"\n**Striped ÷ single: {_f(r, 2)}** (> 1 favours the stripe).\n")
    out.append(
        "What this shows and what it does not: under QEMU TCG with both disk images on one host disk, "
        "the stripe's gain is bounded by the emulator (one emulated CPU path and one host device serve "
        "every member), not by the devices. The guest's O_DIRECT writes end in the host's page cache "
        "(the bed's disk images are opened with QEMU's default cache.direct=off, aio=threads), so the MiB/s "
        "here are emulator and host-memory rates, not the host disk's, and the spread "
        "between trials (min to max) is wide on a shared 2-core host; a ratio above 1 here most likely "
        "comes from QEMU serving two NVMe controllers' requests in parallel (not verified). On EC2 each instance-store disk is a separate NVMe device "
        "with its own throughput, so the striped tier's sequential write rate should scale with the member "
        "count there (not measured here); this figure only checks that the dm-stripe segment is not slower than one member "
        "and that the pool's first tier really is striped "
        f"({'yes' if sec.get('striped_segment') else 'NO'}: `{(sec.get('tables', {}).get('isa') or ['?'])[0]}`).")
    if m.get("istore_commit"):
        out.append(f"\nRun on its own (`bench/bench.py --only istore`, commit {m['istore_commit']}, "
                   f"{m.get('istore_wall_s', 0):.0f} s) and merged into this run's results.")
    return "\n".join(out) + "\n"
