"""Stand-alone training on several devices (issue 19 item 7), checked on the CPU: under
`python -m paddle.distributed.launch` the ranks share the pending runs of one results file;
the backend and device follow `standalone.backend` and `device`."""
import os
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from track1.config import load_config
from track1.gt import runner
from track1.io_utils import atomic_write_json, read_jsonl
from track1.standalone.trainer import _initialised_on_cpu, resolve_backend

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["standalone.train_images=256", "standalone.epochs=1", "standalone.warmup_epochs=0.25",
        "standalone.batch_size=64", "standalone.bn_recalib_images=64", "standalone.eval_images=128",
        "standalone.eval_batch_size=128"]
CODE = "1222233333000000333300000055550000000000007777000000"
CODES = [CODE, CODE[:42] + "6" + CODE[43:], CODE[:44] + "5" + CODE[45:]]      # stage-4 widths differ
# What differs between two trainings of one (code, seed): when and how fast they ran.
TIMING = runner.MEASURED + ("code_version",)


def test_backend_follows_the_device(monkeypatch):
    import track1.runtime.device as devices
    assert resolve_backend("auto", "auto") == ("static", "cpu")
    assert resolve_backend("static", "auto") == ("static", "cpu")
    assert resolve_backend("dygraph", "cpu") == ("dygraph", "cpu")
    with pytest.raises(devices.DeviceError, match="config key 'device': gpu"):
        resolve_backend("auto", "gpu")
    monkeypatch.setattr(devices, "gpu_available", lambda: True)
    assert resolve_backend("auto", "auto") == ("dygraph", "gpu")
    assert resolve_backend("static", "auto") == ("static", "cpu")        # the static program: the CPU's
    with pytest.raises(devices.DeviceError, match="standalone.backend static runs on the CPU only"):
        resolve_backend("static", "gpu")
    # the default config keeps static (CPU results bit-identical); imagenet trains on GPUs
    assert load_config(None).standalone.backend == "static"
    assert load_config("imagenet").standalone.backend == "auto"


def test_initial_weights_come_from_the_cpu_whatever_the_device(monkeypatch):
    """On a GPU the seeded network is built on the CPU and copied there (the GPU's generator
    would draw other weights). Simulated: the "gpu" is the CPU, the device switches recorded."""
    from track1.models.standalone import StandaloneNet
    from track1.profile import Profile
    prof = Profile.from_section(load_config(None).profile)

    switched, current = [], ["gpu:3"]

    def make():         # the same seed draws other weights on the "gpu"
        paddle.seed(7 if current[0] == "cpu" else 99)
        return StandaloneNet(prof, CODES[0])

    monkeypatch.setattr(paddle.device, "get_device", lambda: current[0])
    monkeypatch.setattr(paddle, "set_device", lambda d: (switched.append(d), current.__setitem__(0, d)))
    net = _initialised_on_cpu(make)
    assert switched == ["cpu", "gpu:3"] and current == ["gpu:3"]
    paddle.seed(7)
    want = {k: v.numpy() for k, v in StandaloneNet(prof, CODES[0]).state_dict().items()}
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), want[k], err_msg=k)


def test_a_rank_takes_only_its_own_launchs_plan(tmp_path):
    out = tmp_path / "r.jsonl"
    todo = [["a1", CODES[0], 0], [None, CODES[1], 0]]
    atomic_write_json(runner.plan_path(out), {"launch": "other", "world": 2, "protocol": "p", "todo": todo})
    with pytest.raises(runner.LaunchError, match="no run plan from rank 0 of this launch"):
        runner._read_plan(out, "mine", 2, "p", poll_s=0.01, timeout_s=0.1)
    atomic_write_json(runner.plan_path(out), {"launch": "mine", "world": 2, "protocol": "p", "todo": todo})
    assert runner._read_plan(out, "mine", 2, "p", poll_s=0.01) == [tuple(t) for t in todo]
    with pytest.raises(runner.LaunchError, match="planned for 2 ranks under protocol p"):
        runner._read_plan(out, "mine", 3, "p", poll_s=0.01)


def test_launch_identity_is_one_launchs(monkeypatch):
    for k in ("PADDLE_TRAINERS_NUM", "PADDLE_TRAINER_ID", "PADDLE_NNODES", "PADDLE_MASTER", "PADDLE_TRAINER_ENDPOINTS"):
        monkeypatch.delenv(k, raising=False)
    assert runner.launch_identity() == (0, 1, None)                # not launched
    env = {"PADDLE_TRAINERS_NUM": "2", "PADDLE_MASTER": "127.0.0.1:6170",
           "PADDLE_TRAINER_ENDPOINTS": "127.0.0.1:6170,127.0.0.1:6171"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ids = []
    for rank in ("0", "1"):
        monkeypatch.setenv("PADDLE_TRAINER_ID", rank)
        ids.append(runner.launch_identity())
    assert [i[:2] for i in ids] == [(0, 2), (1, 2)] and ids[0][2] == ids[1][2]
    monkeypatch.setattr(os, "getppid", lambda: 1)                  # another launcher, the same ports
    assert runner.launch_identity()[2] != ids[1][2]
    monkeypatch.setenv("PADDLE_NNODES", "2")
    with pytest.raises(runner.LaunchError, match="one node"):
        runner.launch_identity()


def _env():
    return {**os.environ, "PYTHONPATH": REPO}


def _args(out):
    sets = [a for o in TINY for a in ("--set", o)]
    return ["--codes", *CODES, "--seeds", "0", "--out", str(out), *sets]


def _tool(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_standalone.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=900, cwd=REPO, env=_env())


def _by_pair(rows):
    return {(r["arch"], r["seed"]): {k: v for k, v in r.items() if k not in TIMING} for r in rows}


def test_ranks_of_a_launch_share_the_pending_runs(tmp_path):
    """3 runs, one already recorded (a resumed launch), 2 ranks: each rank trains one, both
    append to the one file, every run is recorded once with the values of a one-process run;
    another invocation on the file while the launch runs is refused."""
    ref = tmp_path / "ref.jsonl"
    p = _tool(*_args(ref))
    assert p.returncode == 0, p.stderr[-3000:]
    ref_rows = read_jsonl(ref)
    assert len(ref_rows) == 3
    out = tmp_path / "out.jsonl"
    out.write_text(ref.read_text().splitlines(keepends=True)[0])
    logs = tmp_path / "log"
    launch = subprocess.Popen([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                               "--log_dir", str(logs), os.path.join(REPO, "tools", "train_standalone.py"),
                               *_args(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                              env=_env(), start_new_session=True)
    try:
        deadline = time.time() + 300
        while not runner.plan_path(out).exists():
            assert launch.poll() is None and time.time() < deadline, _logs(logs)
            time.sleep(0.2)
        other = _tool(*_args(out))                        # rank 0 holds the file: refused, nothing written
        assert other.returncode == 2 and "is in use by another run" in other.stderr, other.stderr
        assert launch.wait(timeout=900) == 0, _logs(logs)
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, 9)
    rows = read_jsonl(out)
    assert len(rows) == 3 and len({(r["arch"], r["seed"]) for r in rows}) == 3
    assert _by_pair(rows) == _by_pair(ref_rows)
    assert rows[0] == ref_rows[0] and not runner.plan_path(out).exists()
    for r in (0, 1):
        text = (logs / f"workerlog.{r}").read_text()
        assert f"[rank {r}/2] [1/1]" in text, text[-2000:]        # one run each
    assert "2 to do over 2 ranks" in (logs / "workerlog.0").read_text()


def _logs(d):
    return "\n".join(f.read_text()[-1500:] for f in sorted(d.glob("workerlog.*"))) if d.exists() else "no logs"


def test_device_gpu_without_one_is_one_line(tmp_path):
    p = _tool("--codes", CODES[0], "--out", tmp_path / "x.jsonl", "--set", "device=gpu")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "config key 'device': gpu, but" in p.stderr and not (tmp_path / "x.jsonl").exists()
