"""A pretrained start for the supernet (issue 21): `tools/train_standalone.py --weights DIR`
keeps the network each run measured, and that file is what `train.init` loads."""
import json
import os
import subprocess
import sys

import numpy as np

from track1.config import load_config
from track1.data import load_splits
from track1.gt.runner import weights_path
from track1.io_utils import read_jsonl
from track1.models import StandaloneNet
from track1.profile import Profile
from track1.runtime import checkpoint
from track1.runtime.inference import DygraphInference, evaluate
from track1.train.loop import prepare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["standalone.train_images=512", "standalone.epochs=1", "standalone.warmup_epochs=0.25",
        "standalone.batch_size=64", "standalone.bn_recalib_images=128", "standalone.eval_images=256",
        "standalone.eval_batch_size=128", "standalone.average_from=0"]


def test_kept_weights_are_the_measured_network_and_load_as_the_supernets_start(tmp_path):
    cfg = load_config(None, TINY)
    prof = Profile.from_section(cfg.profile)
    code = prof.space.max_code()
    sets = [a for o in TINY for a in ("--set", o)]

    def run(out, *extra):
        r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_standalone.py"), "--codes", code,
                            "--seeds", "0", "--out", str(out), *extra, *sets], capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        return read_jsonl(out)[0]
    rec = run(tmp_path / "runs.jsonl", "--weights", str(tmp_path / "w"))
    path = weights_path(tmp_path / "w", code, 0)
    arrays, meta = checkpoint.load(path.with_suffix(""))
    assert meta["acc"] == rec["acc"] and meta["arch"] == code
    # keeping the weights changes nothing about the run
    plain = run(tmp_path / "plain.jsonl")
    assert (plain["acc"], plain["test_loss"]) == (rec["acc"], rec["test_loss"])
    # the file is the network the record measured (dygraph here, static there: float rounding)
    net = StandaloneNet(prof, code)
    assert set(arrays) == set(net.state_dict())
    model = DygraphInference(net)
    model.set_state(arrays)
    test = load_splits(cfg.data, cfg.profile)["test"]
    got = evaluate(model, test.batches(128, limit=256))
    assert abs(got["acc"] - rec["acc"]) <= 2 / 256 and abs(got["loss"] - rec["test_loss"]) < 1e-3
    # and it loads as train.init: the supernet's largest sub-network starts as that network
    sup = load_config(None, ["train.engine=dygraph", f"train.init={path}", "train.train_images=64",
                             "train.batch_size=16", "train.epochs=1", "train.warmup_epochs=0", "train.eval_images=0",
                             "train.gt=null", f"train.out_dir={tmp_path / 'out'}"])
    run_ = prepare(sup, prof)
    run_.net.set_active_subnet(code)
    x, _ = next(test.batches(32))
    np.testing.assert_allclose(DygraphInference(run_.net).predict(x), model.predict(x), rtol=1e-5, atol=1e-5)
    assert json.loads((path.parent / f"{path.stem}.json").read_text())["seed"] == 0


def test_a_bad_weights_folder_is_one_line_before_any_training(tmp_path):
    (tmp_path / "file").write_text("x")
    code = Profile.from_section(load_config(None).profile).space.max_code()
    for bad, msg in ((tmp_path / "file", "not a folder"), (tmp_path / "file" / "sub", "not a folder"), ("", "empty path")):
        r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "train_standalone.py"), "--codes", code,
                            "--out", str(tmp_path / "runs.jsonl"), "--weights", str(bad)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--weights" in r.stderr and msg in r.stderr, r.stderr
        assert not (tmp_path / "runs.jsonl").exists()


def test_a_relative_init_is_read_from_the_checkout_whatever_the_working_directory(tmp_path, monkeypatch):
    """Config paths (out_dir, gt, init, distill_teacher) are relative to the checkout, as the
    shipped imagenet_finetune.yaml's `pretrained/resnet48.pdparams` says."""
    import pytest
    from track1.config import REPO as ROOT, repo_path
    from track1.train.loop import TrainError
    monkeypatch.chdir(tmp_path)
    assert repo_path("pretrained/x.npz") == ROOT / "pretrained" / "x.npz" and repo_path(tmp_path) == tmp_path
    prof = Profile.from_section(load_config(None).profile)
    for key in ("init", "distill_teacher"):
        cfg = load_config(None, ["train.engine=dygraph", f"train.{key}=no_such_dir/w.npz", "train.gt=null",
                                 f"train.out_dir={tmp_path / 'out'}"])
        with pytest.raises((TrainError, FileNotFoundError), match=str(ROOT / "no_such_dir" / "w.npz")):
            prepare(cfg, prof)
