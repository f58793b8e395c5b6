"""/etc/default/dmscale may hold AWS_SECRET_ACCESS_KEY: root only (0600).

* debian/postinst tightens a copy an older package left at 0644 (dpkg keeps
  an edited conffile, mode included), run here against a scratch DPKG_ROOT;
* debian/rules makes the packaged file 0600, and lintian is told why;
* `make check-deb` checks the built .deb itself with dpkg-deb -c.

Run: /usr/bin/python3 -m pytest tests/unit_py   (from the project root)
"""
import os
import re
import stat
import subprocess

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def run_postinst(root, *args):
    env = dict(os.environ, DPKG_ROOT=str(root))
    return subprocess.run(["sh", os.path.join(ROOT, "debian", "postinst"), *args],
                          env=env, capture_output=True, text=True, check=False)


def test_postinst_tightens_an_existing_file(tmp_path):
    d = tmp_path / "etc" / "default"
    d.mkdir(parents=True)
    f = d / "dmscale"
    f.write_text("AWS_SECRET_ACCESS_KEY=x\n")
    f.chmod(0o644)
    r = run_postinst(tmp_path, "configure", "0.2.0")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert f.read_text() == "AWS_SECRET_ACCESS_KEY=x\n"


def test_postinst_without_the_file_and_other_actions(tmp_path):
    assert run_postinst(tmp_path, "configure", "").returncode == 0
    d = tmp_path / "etc" / "default"
    d.mkdir(parents=True)
    f = d / "dmscale"
    f.write_text("")
    f.chmod(0o644)
    assert run_postinst(tmp_path, "abort-upgrade", "0.3.0").returncode == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o644     # only configure touches it


def test_rules_and_makefile_check_the_mode():
    rules = open(os.path.join(ROOT, "debian", "rules")).read()
    assert re.search(r"^\tchmod 0600 debian/dmscale/etc/default/dmscale$", rules, re.M)
    overrides = open(os.path.join(ROOT, "debian", "dmscale.lintian-overrides")).read()
    assert "non-standard-file-perm 0600 != 0644 [etc/default/dmscale]" in overrides
    mk = open(os.path.join(ROOT, "Makefile")).read()
    check_deb = mk[mk.index("\ncheck-deb:"):]
    assert "dpkg-deb -c" in check_deb and "-rw-------" in check_deb
