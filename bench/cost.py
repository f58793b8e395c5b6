#!/usr/bin/python3
"""`make bench-cost`: the cost simulations of docs/COST.md, no VM, seconds.
Runs BUILD/dmscale-replay (bench/traces/*.trace against the shipped defaults
and the seed's policy; one run at the bench seed and a sweep over latency
seeds) and BUILD/dmscale-fleet (500 instances; the backoff comparison also on
a tighter start), writes bench/results-cost.json and refreshes the cost
section of docs/BENCHMARKS.md (between its markers).

    /usr/bin/python3 bench/cost.py [BUILD_DIR]
"""
import datetime
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import render_cost  # noqa: E402

SEED = 15
SWEEP_SEEDS = 100


def run(cmd):
    t0 = time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out), time.monotonic() - t0


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    traces = sorted(glob.glob(os.path.join("bench", "traces", "*.trace"), root_dir=ROOT))
    replay = os.path.join(build, "dmscale-replay")
    fleet = os.path.join(build, "dmscale-fleet")
    t_all = time.monotonic()
    res = {"meta": {
        "command": "make bench-cost",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "dmscale_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                         cwd=ROOT).stdout.strip(),
        "traces": traces, "seed": SEED, "sweep_seeds": SWEEP_SEEDS,
    }}
    res["replay"], res["meta"]["replay_wall_s"] = run([replay, "--seed", str(SEED)] + traces)
    res["sweep"], res["meta"]["sweep_wall_s"] = run([replay, "--sweep", str(SWEEP_SEEDS)] + traces)
    res["fleet"], res["meta"]["fleet_wall_s"] = run([fleet, "--instances", "500", "--spread", "300",
                                                     "--seed", str(SEED)] + traces)
    res["fleet_tight"], res["meta"]["fleet_tight_wall_s"] = run([fleet, "--instances", "500", "--spread", "30",
                                                                 "--seed", str(SEED)] + traces)
    res["meta"]["wall_s"] = time.monotonic() - t_all
    with open(os.path.join(HERE, "results-cost.json"), "w") as fh:
        json.dump(res, fh, indent=1)
        fh.write("\n")
    bm = os.path.join(ROOT, "docs", "BENCHMARKS.md")
    if os.path.exists(bm):
        with open(bm) as fh:
            text = fh.read()
        with open(bm, "w") as fh:
            fh.write(render_cost.splice(text, render_cost.section(res)))
    print(f"bench-cost: {os.path.join('bench', 'results-cost.json')} in {res['meta']['wall_s']:.1f} s "
          f"(replay {res['meta']['replay_wall_s']:.2f} s, sweep {res['meta']['sweep_wall_s']:.1f} s, "
          f"fleet {res['meta']['fleet_wall_s']:.1f} s + {res['meta']['fleet_tight_wall_s']:.1f} s)")


if __name__ == "__main__":
    main()
