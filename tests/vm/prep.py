"""What every xdist worker of one VM test run shares, built once: the installed
image and the saved booted guest (vm.Template).

    prep.py DIR     build them into DIR (DIR/ready.json is written last)

`make check-vm` runs it before pytest and hands DIR to the workers in
$DMSCALE_VM_PREPARED; `make check` builds it while check-fresh runs. Without
it (pytest run by hand) each worker builds its own (conftest.base_image).
The guests only ever read these files: each VM writes to its own overlay.
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vm as vmlib  # noqa: E402

READY = "ready.json"


def warm_enabled():
    return os.environ.get("DMSCALE_VM_WARM", "1") != "0"


def build(d):
    """Build the image (and, unless DMSCALE_VM_WARM=0, the saved guest) in d."""
    t0 = time.monotonic()
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    img = os.path.abspath(os.path.join(d, "installed.img"))
    secs = vmlib.build_installed_image(img)
    print(f"prep: installed image built in {secs:.1f} s", file=sys.stderr)
    info = {"image": img}
    if warm_enabled():
        secs = vmlib.build_template(img, os.path.join(d, "template"))
        t = vmlib.TEMPLATES[img]
        info.update(disk=t.disk, state=t.state, key=list(t.key))
        print(f"prep: booted guest saved in {secs:.1f} s: default VMs resume it", file=sys.stderr)
    with open(os.path.join(d, READY + ".tmp"), "w") as f:
        json.dump(info, f)
    os.replace(os.path.join(d, READY + ".tmp"), os.path.join(d, READY))
    print(f"prep: {d} ready in {time.monotonic() - t0:.1f} s", file=sys.stderr)


def load(d):
    """The image path of a prepared DIR; registers its saved guest. Raises
    RuntimeError when DIR was never completed (ready.json is written last)."""
    try:
        with open(os.path.join(d, READY)) as f:
            info = json.load(f)
    except OSError as e:
        raise RuntimeError(f"{d} is not a completed VM prep ({e}): run tests/vm/prep.py {d}") from e
    if "state" in info and warm_enabled():
        vmlib.TEMPLATES[info["image"]] = vmlib.Template(info["disk"], info["state"], tuple(info["key"]))
    return info["image"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: prep.py DIR")
    build(sys.argv[1])
