#!/usr/bin/python3
"""Generate the reference traces of bench/traces/ (issue 15): each NAME.trace
is a text file of "time_s used_bytes" samples (one a line, 1 s apart, linear
between samples), with a header of '#' lines giving its shape and the reason
for it. Deterministic (fixed seeds): rerunning rewrites the same files.

    /usr/bin/python3 bench/traces/gen.py [OUTDIR]
"""
import os
import random
import sys

MIB = 1 << 20
GIB = 1 << 30


def write(outdir, name, header, used_at, t_end, step=1):
    path = os.path.join(outdir, name + ".trace")
    with open(path, "w") as f:
        f.write(f"# trace {name}\n")
        for line in header.strip().splitlines():
            f.write(f"# {line}\n")
        f.write("# columns: time_s used_bytes (1 s samples, linear in between)\n")
        t = 0
        while t <= t_end:
            f.write(f"{t} {int(used_at(t))}\n")
            t += step


class Piecewise:
    """used(t) from segments (t0, t1, rate_bps) added together; plus step
    deletions (t, bytes)."""

    def __init__(self, base=0):
        self.base = base
        self.segs = []
        self.drops = []

    def write(self, t0, nbytes, rate):
        t1 = t0 + nbytes / rate
        self.segs.append((t0, t1, rate))
        return t1

    def delete(self, t, nbytes):
        self.drops.append((t, nbytes))

    def __call__(self, t):
        u = self.base
        for t0, t1, rate in self.segs:
            if t > t0:
                u += (min(t, t1) - t0) * rate
        for td, n in self.drops:
            if t >= td:
                u -= n
        return max(0, u)


def steady():
    p = Piecewise(base=1 * GIB)
    t1 = p.write(10, 400 * GIB, 200 * MIB)
    hdr = f"""shape: one writer at a steady 200 MiB/s from t=10 s until it has written 400 GiB
(t={t1:.0f} s), then idle for 60 s; 1 GiB used before (docker's own state).
why: the simplest sustained fill, a data-loading or ETL job streaming to scratch;
it shows the ratio a constant rate leaves (headroom + the last volume) and that
volumes sized from the measured rate keep pace."""
    return "steady-400g", hdr, p, int(t1 + 60)


def genomics():
    p = Piecewise(base=1 * GIB)
    t = p.write(10, 60 * GIB, 500 * MIB)                 # download FASTQ
    t_align = t + 5
    t_end_align = p.write(t_align, 90 * GIB, 150 * MIB)  # unsorted BAM
    p.write(t_align, 180 * GIB, 300 * MIB)              # aligner temporaries: 2x the BAM, same duration
    t_sort = t_end_align + 5
    t_end_sort = p.write(t_sort, 90 * GIB, 300 * MIB)    # sorted BAM
    t_del = t_end_sort + 5
    p.delete(t_del, 180 * GIB + 90 * GIB)                # temporaries + unsorted BAM
    hdr = f"""shape: a genomics pipeline on one instance. (1) download 60 GiB of FASTQ at
500 MiB/s (t=10..{t:.0f} s); (2) align to a 90 GiB unsorted BAM at 150 MiB/s, with
2x temporary space (aligner temporaries growing at 300 MiB/s to 180 GiB over the
same {t_end_align - t_align:.0f} s, so 450 MiB/s in all); (3) sort into a 90 GiB sorted BAM at
300 MiB/s (t={t_sort:.0f}..{t_end_sort:.0f} s); (4) delete the temporaries and the unsorted BAM
(270 GiB) at t={t_del:.0f} s; idle 60 s. Used: 1 GiB before, peak 421 GiB, 151 GiB at the end.
why: the workload the seed (amazon-ebs-autoscale) was written for (AWS Genomics
Workflows): a fast start, a burst of temporaries, and a cleanup. EBS capacity is
never returned, so provisioned/used at the end cannot go below peak/end = 2.79
for any grow-only policy; the harness also reports provisioned / peak used."""
    return "genomics", hdr, p, int(t_del + 60)


def bursts():
    rnd = random.Random(15)
    p = Piecewise(base=2 * GIB)
    images = {}
    t_last = 0
    for b in range(12):
        tb = 30 + b * 360
        for c in range(16):
            t0 = tb + rnd.uniform(0, 20)
            img = rnd.randrange(24)
            if img not in images:                          # first pull of this image: layers kept
                images[img] = rnd.uniform(0.5, 3) * GIB
                t0 = p.write(t0, images[img], 150 * MIB)
            size = rnd.uniform(0.5, 4) * GIB
            rate = rnd.uniform(20, 120) * MIB
            t_last = max(t_last, p.write(t0, size, rate))
    hdr = f"""shape: 12 bursts, one every 6 min; each starts 16 short containers within 20 s.
A container first pulls its image if no earlier container did (24 images,
0.5-3 GiB of layers each, at 150 MiB/s), then writes 0.5-4 GiB to its writable
layer at 20-120 MiB/s (up to ~1.5 GiB/s for the whole burst) and exits. Nothing
is deleted inside the trace: the ECS agent keeps a stopped container (and its
writable layer) for ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION, 3 h by default, and
images for at least ECS_IMAGE_MINIMUM_CLEANUP_AGE (1 h). Last write t={t_last:.0f} s; idle 60 s.
Seed 15 (Python random).
why: an AWS Batch host running many short jobs: steep bursts separated by idle
gaps, so the fill-rate estimate swings from 0 to its maximum within seconds."""
    return "bursts", hdr, p, int(t_last + 60)


def big():
    p = Piecewise(base=1 * GIB)
    t = 10.0
    left = 1536 * GIB
    while left > 0:
        chunk = min(left, 300 * GIB)
        t = p.write(t, chunk, 500 * MIB) + 120          # a compute phase between output phases
        left -= chunk
    hdr = f"""shape: one job writing 1.5 TiB (1536 GiB) at 500 MiB/s in phases of 300 GiB
(~10 min each) separated by 2 min of compute without writes; last write at
t={t - 120:.0f} s; idle 60 s. 1 GiB used before.
why: a single large job (a reference build, a large merge) that takes the pool to
its largest size: the policy has to scale the volume size with the pool so that
the volume count stays under max_volumes and the attachment slots."""
    return "big-1.5t", hdr, p, int(t - 120 + 60)


def step():
    p = Piecewise(base=1 * GIB)
    p.write(10, 54 * GIB, 54 * GIB)                     # to 55 % of the 100 GiB pool within one second
    t1 = p.write(11, 245 * GIB, 500 * MIB)              # then writes at 500 MiB/s to 300 GiB
    hdr = f"""shape: 1 GiB used; at t=10 s, 54 GiB more within one second (55 % of the launch
template's 100 GiB volume, where dmscale's replay starts: an image unpacked, a
reference fallocated); then 500 MiB/s until 300 GiB are used (t={t1:.0f} s); idle 60 s.
why: the shape of docs/BENCHMARKS.md section 10 (the side-by-side run with
amazon-ebs-autoscale in the VM: a jump to 55 % of a 200 GiB disk, then 2 GiB/s
of fallocate; here a writer's 500 MiB/s, so that a slow attach cannot run any
policy dry after the jump),
where dmscale bought one 1500 GiB volume for a 300 GiB job (5.66x): a step
in usage reads as tens of GiB/s to a short fill-rate average, and rate x horizon
asked for the largest volume there is. The replay keeps that from coming back."""
    return "step-500m", hdr, p, int(t1 + 60)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, hdr, fn, t_end in (steady(), genomics(), bursts(), big(), step()):
        write(outdir, name, hdr, fn, t_end)


if __name__ == "__main__":
    main()
