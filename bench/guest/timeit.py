#!/usr/bin/python3
"""Run argv, print JSON {elapsed_s, rc, err} (CLOCK_MONOTONIC)."""
import json
import subprocess
import sys
import time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"elapsed_s": time.monotonic() - t, "rc": p.returncode, "err": p.stderr[-400:]}))
