"""A checkpoint is validated wherever it is loaded (scoring, --resume, train.init): readable,
with metadata, every tensor of the supernet its config builds, with that shape, finite.
Each fault is one line naming the file (and the tensor), exit 2, and nothing is written."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, train_run
from track1.config import load_config
from track1.runtime import checkpoint
from track1.scoring.predict import check_scores
from track1.scoring.trained import ScoreError

TINY = ["train.train_images=64", "train.batch_size=32", "train.epochs=1", "train.warmup_epochs=0",
        "train.eval_images=0", "train.engine=dygraph", "train.gt=null", "train.strategy=spos"]


@pytest.fixture(scope="module")
def sound(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    train_run(load_config(None, TINY + [f"train.out_dir={d}"]), log=lambda m: None)
    return d


def _corrupt(src, dst, how):
    shutil.copytree(src, dst)
    npz = dst / "supernet.npz"
    if how in ("truncated", "empty", "random"):
        data = npz.read_bytes()
        npz.write_bytes({"truncated": data[:len(data) // 2], "empty": b"",
                         "random": np.random.default_rng(0).bytes(4096)}[how])
        return None
    arrays, meta = checkpoint.load(dst / "supernet")
    key = next(k for k in arrays if k.endswith("conv1.weight"))
    if how == "no_meta":
        np.savez(npz, **arrays)
        (dst / "supernet.json").unlink()
        return None
    if how == "missing":
        del arrays[key]
    elif how == "shape":
        arrays[key] = arrays[key][:, :1]
    elif how == "nan":
        arrays[key] = arrays[key].copy()
        arrays[key][0, 0, 0, 0] = np.nan
    checkpoint.save(dst / "supernet", arrays, meta)
    return key


@pytest.mark.parametrize("how,msg", [
    ("truncated", "is not a readable track1 checkpoint"), ("empty", "is not a readable track1 checkpoint"),
    ("random", "is not a readable track1 checkpoint"), ("no_meta", "holds no metadata"),
    ("missing", "is missing"), ("shape", "has shape"), ("nan", "holds non-finite values"),
])
def test_predict_refuses_a_broken_checkpoint_in_one_line(sound, tmp_path, how, msg):
    key = _corrupt(sound, tmp_path / "c", how)
    out = tmp_path / "sub.json"
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "predict.py"), "--checkpoint", str(tmp_path / "c"),
                        "--out", str(out), "--set", "score.images=8"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert msg in r.stderr and "supernet.npz" in r.stderr and "Traceback" not in r.stderr
    if key:
        assert key in r.stderr
    assert not out.exists()


def test_resume_refuses_a_checkpoint_with_nan(sound, tmp_path):
    d = tmp_path / "c"
    shutil.copytree(sound, d)
    arrays, meta = checkpoint.load(d / "checkpoint")
    key = next(k for k in arrays if k.endswith("bn1.weight"))
    arrays[key] = np.full_like(arrays[key], np.inf)
    checkpoint.save(d / "checkpoint", arrays, {**meta, "finished": False})
    with pytest.raises(checkpoint.CheckpointError, match=f"tensor '{key}' holds non-finite values"):
        train_run(load_config(None, TINY + [f"train.out_dir={d}"]), resume=True, log=lambda m: None)


def test_a_degenerate_submission_is_refused():
    score = {"metric": "prob"}
    with pytest.raises(ScoreError, match="within float noise"):
        check_scores([0.37] * 5, score, 10)
    with pytest.raises(ScoreError, match="at chance level"):
        check_scores([0.1, 0.1000004, 0.0999], score, 10)
    with pytest.raises(ScoreError, match="at chance level"):
        check_scores([-np.log(10), -np.log(10) + 1e-4, -np.log(10) - 5e-4], {"metric": "neg_loss"}, 10)
    check_scores([0.1, 0.12, 0.3], score, 10)            # a ranking: accepted


def test_init_weights_that_are_not_weights_are_one_line(tmp_path):
    bad = tmp_path / "w.pdparams"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(checkpoint.CheckpointError, match="is not readable as .npz or .pdparams"):
        checkpoint.load_weights(bad)


def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    """The write goes to a temporary file first: a disk that fills up half-way leaves the
    last good checkpoint loadable, no temporary file, and one line saying so (OutputError:
    exit 2 at the command line)."""
    import errno
    from track1.errors import OutputError
    path = tmp_path / "checkpoint"
    checkpoint.save(path, {"w": np.arange(4.0)}, {"step": 1})
    real = np.savez

    def fills_the_disk(file, **arrays):
        real(file, **arrays)                          # some bytes land, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(checkpoint.np, "savez", fills_the_disk)
    with pytest.raises(OutputError) as e:
        checkpoint.save(path, {"w": np.zeros(4)}, {"step": 2})
    msg = str(e.value)
    assert "\n" not in msg and "No space left on device" in msg and "previous checkpoint is kept" in msg
    arrays, meta = checkpoint.load(path)
    assert meta["step"] == 1 and np.array_equal(arrays["w"], np.arange(4.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "checkpoint.npz"]


def test_an_fp16_loss_scale_survives_a_checkpoint(tmp_path):
    """The GradScaler's state (in the form Paddle 3.3.1's state_dict gives on a GPU) goes
    through a checkpoint file and back in the form its load_state_dict reads; a disabled
    scaler (the CPU's) adds nothing. The GPU round trip itself: benchmarks/gpu_smoke.sh."""
    import paddle
    from track1.train.engines import scaler_arrays, scaler_state
    on_gpu = {"scale": np.array([4096.0], np.float32), "incr_ratio": 2.0, "decr_ratio": 0.5,
              "incr_every_n_steps": 1000, "decr_every_n_nan_or_inf": 2, "incr_count": 317, "decr_count": 1,
              "use_dynamic_loss_scaling": True}
    checkpoint.save(tmp_path / "ck", {"w": np.zeros(2), **scaler_arrays(on_gpu)}, {"step": 3})
    arrays, _ = checkpoint.load(tmp_path / "ck")
    back = scaler_state(arrays)
    assert sorted(back) == sorted(on_gpu) and np.array_equal(back.pop("scale"), on_gpu.pop("scale"))
    assert back == on_gpu and all(type(back[k]) is type(on_gpu[k]) for k in on_gpu)
    if not paddle.device.is_compiled_with_cuda():
        assert scaler_arrays(paddle.amp.GradScaler().state_dict()) == {}
