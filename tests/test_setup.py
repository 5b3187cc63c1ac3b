"""tools/setup.sh's package check against stub distributions in a temporary site directory
(the real site-packages is never searched, nothing is installed)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Loaded by path: putting tools/ on sys.path would let its scripts shadow other imports.
_spec = importlib.util.spec_from_file_location("check_requirements", REPO / "tools" / "check_requirements.py")
_cr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cr)
TO_INSTALL, paddle_version_matches, read_pins = _cr.TO_INSTALL, _cr.paddle_version_matches, _cr.read_pins

PINS = read_pins(REPO / "requirements.txt")
PADDLE_VER = dict(PINS)["paddlepaddle"]


def _site(root: Path, paddle=None) -> Path:
    """Every pin but Paddle at its version, plus `paddle` = (distribution name, version)."""
    site = root / "site"
    dists = [(n, v) for n, v in PINS if n != "paddlepaddle"] + ([paddle] if paddle else [])
    for name, ver in dists:
        info = site / f"{name.replace('-', '_')}-{ver}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n")
    return site


def _check(site):
    return subprocess.run(["bash", "tools/setup.sh", "--check", "--path", str(site)], cwd=REPO,
                          capture_output=True, text=True)


@pytest.mark.parametrize("version", [PADDLE_VER, PADDLE_VER + ".post120"])
def test_gpu_paddle_of_the_pinned_version_satisfies(version, tmp_path):
    r = _check(_site(tmp_path, ("paddlepaddle-gpu", version)))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "satisfied"
    assert any(line.startswith(f"satisfied: paddlepaddle=={PADDLE_VER} by paddlepaddle-gpu") for line in lines)


@pytest.mark.parametrize("paddle,found", [(None, ""), (("paddlepaddle", "3.0.0"), " (found 3.0.0)")])
def test_missing_or_old_cpu_paddle_reports_the_cpu_wheel(paddle, found, tmp_path):
    r = _check(_site(tmp_path, paddle))
    assert r.returncode == TO_INSTALL, r.stderr
    lines = r.stdout.splitlines()
    assert f"missing: paddlepaddle=={PADDLE_VER}{found}" in lines
    assert lines[-1] == f"would install: paddlepaddle=={PADDLE_VER}"


def test_gpu_paddle_of_another_version_is_left_alone(tmp_path):
    r = _check(_site(tmp_path, ("paddlepaddle-gpu", "3.0.0")))
    assert r.returncode == 2
    err = r.stderr.strip()
    assert "\n" not in err and f"paddlepaddle-gpu=={PADDLE_VER}" in err


def _fake_python(tmp_path, site):
    """A PYTHON for setup.sh: the check runs for real on `site`, pip and the data check are stubs."""
    log = tmp_path / "pip.log"
    py = tmp_path / "python"
    py.write_text(f"""#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$@" >> {log}; exit 0; fi
if [ "$1" = "tools/check_requirements.py" ]; then shift; exec {sys.executable} tools/check_requirements.py "$@" --path {site}; fi
if [ "$1" = "-c" ]; then exec {sys.executable} "$@"; fi      # where track1 is imported from (installed here)
exit 0
""")
    py.chmod(0o755)
    return py, log


@pytest.mark.parametrize("paddle,installs", [(("paddlepaddle-gpu", PADDLE_VER), None),
                                             (None, f"-m pip install --quiet paddlepaddle=={PADDLE_VER}")])
def test_setup_installs_only_what_is_missing(paddle, installs, tmp_path):
    py, log = _fake_python(tmp_path, _site(tmp_path, paddle))
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=REPO, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "PYTHON": str(py)})
    assert r.returncode == 0, r.stderr
    if installs is None:
        assert not log.exists() and "[setup] installing" not in r.stdout
    else:
        assert log.read_text().splitlines() == [installs]


def test_version_matching():
    assert paddle_version_matches("3.3.1", "3.3.1")
    assert paddle_version_matches("3.3.1.post120", "3.3.1")
    assert paddle_version_matches("3.3.1+cu118", "3.3.1")
    assert not paddle_version_matches("3.3.10", "3.3.1")
    assert not paddle_version_matches("3.3.1rc0", "3.3.1")
