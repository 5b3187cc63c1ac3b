"""Results stay bit-identical across refactors: today's code against the code that trained the
ground truth under construction (a fixed commit), side by side on this machine.

A ground-truth build spans code changes, so a stand-alone run must not move by one bit; the
supernet engines are held to the same standard on small fixtures. The baseline's `track1/`
and `configs/` are unpacked from git into a temporary folder and run in a subprocess with
the API of their day; today's code runs with today's API; the two outputs must be equal.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
# The commit whose stand-alone trainer built ground truth v2's runs (its study started there).
BASE = "a03cc9e602af27f41dcee8379570480623abd53f"

STANDALONE = ["standalone.train_images=3200", "standalone.epochs=1", "standalone.batch_size=32",
              "standalone.warmup_epochs=0.2", "standalone.bn_recalib_images=256", "standalone.eval_images=300",
              "standalone.eval_batch_size=300"]
CODES = {  # code -> extra protocol keys: v1's protocol (averaging off), and augmentation + tail average
    "1226232333000000221200000045152555154500003111000000": ["standalone.average_from=0"],
    "1456523212321200133313233312321232522200001676561656": ["standalone.augment=true",
                                                             "standalone.average_from=0.5"],
}
SUPERNET = ["train.train_images=96", "train.batch_size=32", "train.epochs=1", "train.warmup_epochs=0.1",
            "train.eval_images=0", "train.bn_recalib_images=0", "train.gt=null", "train.log_every=1",
            "train.lr=0.05", "sandwich.n_random=1", "rdnas.teacher=flops",
            "progressive.phases=[{epochs: 0.3, depth: false, width: false, base: spos, open: []},"
            "{epochs: 0.7, depth: true, width: true, base: sandwich, open: [3]}]"]
# Building a static supernet program costs about a minute of CPU per strategy: CI runs the
# cheapest static one and the dygraph engine; TRACK1_FULL_EQUIVALENCE=1 runs every strategy
# (do so after any change to the engines, models or losses).
RUNS = ([("spos", "static"), ("sandwich", "static"), ("progressive", "static"), ("rdnas", "static"),
         ("sandwich", "dygraph")] if os.environ.get("TRACK1_FULL_EQUIVALENCE") == "1"
        else [("spos", "static"), ("sandwich", "dygraph")])

# Each side's driver: the same work through the API of its own day. Output: one .npz.
BASELINE_DRIVER = """
import json, sys
import numpy as np
import track1
from track1.config import load_config
from track1.data import load_splits
from track1.gt.trainer import train_one
from track1.train import checkpoint
from track1.train.loop import train

args = json.loads(sys.argv[1])
out = {}
for code, extra in args["codes"].items():
    cfg = load_config(None, args["standalone"] + extra)
    rec = train_one(cfg, code, 0, load_splits(cfg))
    for k, v in rec.items():
        if isinstance(v, float) and k not in ("train_img_per_s", "wall_s"):
            out[f"sa/{code}/{k}"] = np.float64(v)
for strategy, engine in args["runs"]:
    d = f"{args['tmp']}/{strategy}-{engine}"
    cfg = load_config(None, args["supernet"] + [f"train.strategy={strategy}", f"train.engine={engine}",
                                                f"train.out_dir={d}"])
    res = train(cfg, log=lambda m: None)
    arrays, _ = checkpoint.load(f"{d}/supernet")
    for k, v in arrays.items():
        out[f"sn/{strategy}-{engine}/{k}"] = v
    out[f"sn/{strategy}-{engine}/@loss"] = np.array([h["loss"] for h in res["history"]])
np.savez(args["out"], **out)
"""
CURRENT_DRIVER = """
import json, sys
import numpy as np
import track1
from track1.config import load_config
from track1.data import load_splits
from track1.gt.runner import MEASURED
from track1.profile import Profile
from track1.runtime import checkpoint
from track1.standalone.trainer import train_one
from track1.train.loop import train

args = json.loads(sys.argv[1])
out = {}
for code, extra in args["codes"].items():
    cfg = load_config(None, args["standalone"] + extra)
    prof = Profile.from_section(cfg.profile)
    rec = train_one(cfg.standalone, cfg.data, prof, code, 0, load_splits(cfg.data, prof))
    for k, v in rec.items():
        if isinstance(v, float) and k not in MEASURED:
            out[f"sa/{code}/{k}"] = np.float64(v)
for strategy, engine in args["runs"]:
    d = f"{args['tmp']}/{strategy}-{engine}"
    cfg = load_config(None, args["supernet"] + [f"train.strategy={strategy}", f"train.engine={engine}",
                                                f"train.out_dir={d}"])
    res = train(cfg, Profile.from_section(cfg.profile), log=lambda m: None)
    arrays, _ = checkpoint.load(f"{d}/supernet")
    for k, v in arrays.items():
        out[f"sn/{strategy}-{engine}/{k}"] = v
    out[f"sn/{strategy}-{engine}/@loss"] = np.array([h["loss"] for h in res["history"]])
np.savez(args["out"], **out)
"""


def _run(driver: str, cwd: Path, args: dict):
    env = {**os.environ, "PYTHONPATH": str(cwd), "GLOG_minloglevel": "2", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(driver), json.dumps(args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    with np.load(args["out"]) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def baseline_tree(tmp_path_factory):
    if subprocess.run(["git", "cat-file", "-e", f"{BASE}^{{commit}}"], cwd=REPO, capture_output=True).returncode:
        pytest.skip(f"baseline commit {BASE[:10]} is not in this clone's history")
    root = tmp_path_factory.mktemp("baseline")
    archive = subprocess.run(["git", "archive", BASE, "track1", "configs"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def test_standalone_and_supernet_results_equal_the_baseline_bit_for_bit(baseline_tree, tmp_path):
    common = {"codes": CODES, "standalone": STANDALONE, "supernet": SUPERNET, "runs": RUNS}
    old = _run(BASELINE_DRIVER, baseline_tree, {**common, "tmp": str(tmp_path / "old"), "out": str(tmp_path / "old.npz")})
    new = _run(CURRENT_DRIVER, REPO, {**common, "tmp": str(tmp_path / "new"), "out": str(tmp_path / "new.npz")})
    assert sorted(old) == sorted(new)
    assert any(k.endswith("/acc_avg") for k in old) and any(k.startswith("sn/spos-static") for k in old)
    for k in old:
        np.testing.assert_array_equal(old[k], new[k], err_msg=k)
