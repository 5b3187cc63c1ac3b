import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paddle
import pytest

from track1.candidates import read_official
from track1.config import load_config
from track1.data import load_splits
from track1.io_utils import read_jsonl
from track1.profile import Profile
from track1.scoring.common import metric, score_images
from conftest import branched_supernet, build_supernet, train_run as train
from track1.scoring.fast import FastScorer
from track1.scoring.reference import ReferenceScorer
from track1.scoring.trained import load_trained, scoring_config
from track1.space import prefix_key

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A briefly trained supernet (a few steps: BN statistics and weights away from init)."""
    d = tmp_path_factory.mktemp("sn")
    cfg = load_config(None, ["train.train_images=512", "train.batch_size=32", "train.epochs=1",
                             "train.warmup_epochs=0.1", "train.eval_images=0", "train.engine=dygraph",
                             "train.gt=null", f"train.out_dir={d}", "train.strategy=sandwich"])
    train(cfg, log=lambda m: None)
    return d


# Scoring settings come from the config at scoring time: small ones for these tests.
SCORE = ["score.images=48", "score.recal_images=32", "score.group=3", "score.chunk=7", "score.jobs=1"]
SCORE_ARGS = [a for o in SCORE for a in ("--set", o)]


def _scoring(ckpt, overrides=()):
    """(trained supernet, scoring config, its network) as predict.py sees them."""
    trained = load_trained(ckpt)
    cfg = scoring_config(trained, None, SCORE + list(overrides))
    return trained, cfg, trained.network()


def _candidates(tmp_path, prof, n=20, seed=5):
    # several codes per stage-1 prefix, as in the official file
    sp = prof.space
    base = sp.sample_codes(n // 2, seed=seed)
    codes = base + [c[:16] + sp.sample_codes(1, seed=seed + i + 1)[0][16:] for i, c in enumerate(base)]
    codes = list(dict.fromkeys(c for c in codes if sp.is_valid(c)))
    p = tmp_path / "cands.json"
    p.write_text(json.dumps({f"arch{i}": {"acc": 0.0, "arch": c} for i, c in enumerate(codes, 1)}))
    return p, codes


@pytest.mark.parametrize("bn, group, by_depth", [
    ("running", 3, False), ("recal", 3, False), ("batch", 3, False),        # channel-grouped runs
    ("running", 1, False), ("recal", 1, False), ("batch", 1, False),        # one candidate per run
    ("batch", 1, True), ("recal", 2, True),                                 # depth-specialised programs
])
def test_fast_scorer_equals_reference_and_extracted_model(ckpt, bn, group, by_depth):
    trained, cfg, net = _scoring(ckpt, [f"score.bn={bn}", "score.metric=neg_loss", f"score.group={group}",
                                        f"score.specialise_depth={by_depth}"])
    prof = trained.profile
    st = dict(cfg.score)
    imgs = score_images(load_splits(cfg.data, cfg.profile), st)
    codes = prof.space.sample_codes(5, seed=2) + [prof.space.min_code()]
    ref = ReferenceScorer(net, imgs, st).score(codes)
    fast = FastScorer(trained.build, trained.arrays, [], imgs, st).score(codes)
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4)
    # the reference is the extracted stand-alone model's accuracy on the images
    import paddle
    from track1.bn import recalibrate
    code = codes[0]
    sub = net.get_active_subnet(code)
    if bn == "recal":
        recalibrate(sub, [imgs["x_recal"]])
    sub.eval() if bn != "batch" else sub.train()
    with paddle.no_grad():
        lg = sub(paddle.to_tensor(imgs["x"])).numpy()
    assert metric(lg, imgs["y"], "neg_loss") == pytest.approx(ref[0], abs=1e-5)


@pytest.mark.parametrize("share", [True, False])
def test_fast_scorer_with_open_weight_branches(share):
    """Progressive training's candidate enhancement: narrow codes of the opened stages run
    their own weight branch; in a grouped run each candidate picks its branch."""
    cfg = load_config(None, ["train.strategy=progressive", "score.images=24", "score.group=4",
                             "score.metric=neg_loss", f"score.share_prefix={share}"])
    prof = Profile.from_section(cfg.profile)
    st = dict(cfg.score)
    imgs = score_images(load_splits(cfg.data, cfg.profile), st)
    net = branched_supernet(cfg, prof)
    opened = list(cfg.progressive.branch_stages)
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}
    sp = prof.space
    codes = sp.sample_codes(5, seed=4) + [sp.min_code(), sp.max_code()]
    ref = ReferenceScorer(net, imgs, st).score(codes)
    fast = FastScorer(lambda: build_supernet(cfg, prof), arrays, opened, imgs, st).score(codes)
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-4)
    shared = FastScorer(lambda: build_supernet(cfg, prof), arrays, [], imgs, st).score(codes)
    assert not np.allclose(shared, fast, rtol=1e-4, atol=1e-4)     # the branches were used


def test_scores_do_not_depend_on_the_company_of_a_run(ckpt):
    trained, cfg, _ = _scoring(ckpt, ["score.metric=neg_loss"])
    prof = trained.profile
    st = dict(cfg.score)
    imgs = score_images(load_splits(cfg.data, cfg.profile), st)
    fs = FastScorer(trained.build, trained.arrays, [], imgs, st)
    codes = prof.space.sample_codes(7, seed=9)
    a = fs.score(codes)
    b = fs.score(codes[::-1])[::-1]
    c = [fs.score([x])[0] for x in codes[:3]]
    assert a == b and a[:3] == c


def test_validation_images_are_held_out(fm_cfg):
    s = load_splits(fm_cfg.data, fm_cfg.profile)
    imgs = score_images(s, dict(fm_cfg.score, bn="recal"))
    test = {x.tobytes() for x in s["test"].images[:10000]}
    val_imgs = ((imgs["x"] * s["val"].std + s["val"].mean) * 255).round().astype(np.uint8)
    assert not any(v.tobytes() in test for v in val_imgs[:50])


def _predict(*args, log=None):
    out = open(log, "w") if log else subprocess.PIPE
    # the defaults first: a test's own --set comes later and wins
    return subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "predict.py"), *SCORE_ARGS, *map(str, args)],
                            stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True,
                            start_new_session=True)


def test_submission_format_shards_and_resume(ckpt, tmp_path, fm_profile):
    cands, codes = _candidates(tmp_path, fm_profile)
    full = tmp_path / "full.json"
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", full)
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    sub = read_official(full, fm_profile.space, need_acc=True)
    src = read_official(cands)
    assert list(sub) == list(src) and all(sub[k]["arch"] == src[k]["arch"] for k in src)
    # two shards, merged: identical to the one-process run
    parts = []
    for i in range(2):
        out = tmp_path / "sh.json"
        p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", out, "--shard", f"{i}/2")
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        parts.append(tmp_path / f"sh.json.shard-{i}-of-2.jsonl")
    merged = tmp_path / "merged.json"
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "predict.py"), "merge", "--checkpoint",
                        str(ckpt), "--candidates", str(cands), "--out", str(merged), *map(str, parts)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(merged.read_text()) == json.loads(full.read_text())
    # a missing shard is an error, not a silently partial submission
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "predict.py"), "merge", "--checkpoint",
                        str(ckpt), "--candidates", str(cands), "--out", str(tmp_path / "bad.json"), str(parts[0])],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "have no score" in p.stderr and not (tmp_path / "bad.json").exists()
    # a shard file of another checkpoint is refused by name, even when complete and consistent
    rows = read_jsonl(parts[1])
    rows[0]["checkpoint"] = "0" * 16
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "predict.py"), "merge", "--checkpoint",
                        str(ckpt), "--candidates", str(cands), "--out", str(tmp_path / "bad.json"), str(parts[0]),
                        str(other)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "other.jsonl' was made with another checkpoint" in p.stderr
    assert not (tmp_path / "bad.json").exists()


def test_rank0_waits_past_a_stale_shard_file(tmp_path):
    """Under a launcher rank 0 merges the other ranks' files; a complete file left by an
    earlier run (other checkpoint) must not be merged while its rank has not replaced it."""
    import threading
    from track1.scoring.run import wait_for_shard
    path = tmp_path / "s.json.shard-1-of-2.jsonl"
    expect = {"checkpoint": "new", "settings": "s", "candidates": "c", "shard": [1, 2]}

    def write(ckpt, score, n=2):
        rows = [{"header": True, **expect, "checkpoint": ckpt, "n": n}] + [{"i": i, "score": score} for i in (1, 3)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    write("old", 0.1)
    threading.Timer(0.5, write, ("new", 0.7)).start()
    t0 = time.time()
    assert wait_for_shard(path, expect, log=None, poll_s=0.05) == {1: 0.7, 3: 0.7}
    assert time.time() - t0 >= 0.4
    with pytest.raises(ValueError, match="gave up waiting"):
        write("new", 0.7, n=3)                                   # incomplete: its rank is still scoring
        wait_for_shard(path, expect, log=None, timeout_s=0.2, poll_s=0.05)


def test_resume_after_kill_and_invalidation(ckpt, tmp_path, fm_profile):
    cands, codes = _candidates(tmp_path, fm_profile, n=30, seed=11)
    out = tmp_path / "r.json"
    partial = tmp_path / "r.json.partial.jsonl"
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", out, log=tmp_path / "l1.txt")
    deadline = time.time() + 600
    while time.time() < deadline and (not partial.exists() or len(read_jsonl(partial)) < 2):
        assert p.poll() is None, (tmp_path / "l1.txt").read_text()[-2000:]
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done = len(read_jsonl(partial)) - 1
    assert 0 < done < len(codes) and not out.exists()
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", out)
    o, _ = p.communicate(timeout=900)
    assert p.returncode == 0 and f"{done} already scored" in o, o
    first = json.loads(out.read_text())
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", tmp_path / "fresh.json")
    p.communicate(timeout=900)
    assert json.loads((tmp_path / "fresh.json").read_text()) == first
    # a changed setting invalidates the partial results: detected and redone, never mixed
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", out, "--set", "score.seed=7")
    o, _ = p.communicate(timeout=900)
    assert p.returncode == 0 and "starting over" in o and "0 already scored" in o, o
    assert json.loads(out.read_text()) != first


def test_predict_errors(tmp_path, ckpt):
    p = _predict("--checkpoint", tmp_path / "nothing")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "no trained supernet" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"a1": {"arch": "123"}}')
    p = _predict("--checkpoint", ckpt, "--candidates", bad)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "entry 'a1': arch code '123'" in err and err.strip().count("\n") == 0
    p = _predict("--checkpoint", ckpt, "--shard", "3/2")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "--shard '3/2'" in err
    cands, _ = _candidates(tmp_path, Profile.from_section((load_config(None)).profile))
    # scoring on images the supernet trained on is refused before any work
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", tmp_path / "v.json", "--set", "data.val_size=10000")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "data.val_size: the supernet was trained with 5000" in err
    # more scored images than the hold-out has: one line before any worker starts (test_parallel:
    # a worker that cannot start ends the run with one line)
    p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", tmp_path / "w.json", "--jobs", "1",
                 "--set", "score.images=6000")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 2 and err == ("error: score.images 6000 exceeds the supernet's 5000 held-out images "
                                         "(data.val_size, fixed by its training run): lower score.images\n"), err


def test_prefix_key_groups_stage1():
    a = "1558511111111111111111111111111111111111111111111111"
    b = a[:20] + "2" + a[21:]
    c = a[:8] + "2" + a[9:]
    assert prefix_key(a) == prefix_key(b) != prefix_key(c)


def test_without_a_candidate_file_the_gt_codes_are_scored_under_their_keys(fm_cfg, fm_profile):
    from pathlib import Path
    from track1.candidates import read_official
    from track1.scoring.predict import candidates_or_sample
    gt_path = Path(REPO) / fm_cfg["train"]["gt"]
    gt = read_official(gt_path, need_acc=True)
    msgs = []
    kc, _ = candidates_or_sample(None, gt_path, fm_profile.space, len(gt) + 5, msgs.append)
    assert [(c.key, c.arch) for c in kc[:len(gt)]] == [(k, v["arch"]) for k, v in gt.items()]
    assert len(kc) == len(gt) + 5 and len({c.code for c in kc}) == len(kc)
    assert all(c.key.startswith("sample") for c in kc[len(gt):]) and "no candidate file" in msgs[0]


def test_running_bn_is_refused_for_a_static_trained_supernet(ckpt):
    from dataclasses import replace
    from track1.scoring.trained import ScoreError, check_bn_mode
    trained = load_trained(ckpt)
    with pytest.raises(ScoreError, match="static engine, which never updates BN running statistics"):
        check_bn_mode({"bn": "running"}, replace(trained, engine="static"))
    check_bn_mode({"bn": "running"}, replace(trained, engine="dygraph"))           # dygraph keeps them
    check_bn_mode({"bn": "batch"}, replace(trained, engine="static"))


def test_scoring_settings_come_from_the_config_at_scoring_time_the_supernet_from_its_checkpoint(ckpt):
    trained = load_trained(ckpt)
    assert trained.engine == "dygraph" and trained.split == {"dataset": "fashion_mnist", "val_size": 5000,
                                                             "split_seed": 0}
    cfg = scoring_config(trained, None, ["score.images=77", "profile.base_channels=[8,8,8,8]"])
    assert cfg.score.images == 77                                   # the config given now
    assert cfg.profile.base_channels == [16, 20, 24, 32]            # the supernet's own, whatever is given
    with pytest.raises(Exception, match="data.split_seed: the supernet was trained with 0"):
        scoring_config(trained, None, ["data.split_seed=3"])


def test_a_supernet_pdparams_in_an_official_layout_scores_like_its_checkpoint(ckpt, tmp_path, fm_profile):
    """A supernet trained elsewhere (the official demo's multi-GPU OFA layout, or track1's own
    export) scored from its .pdparams: the same submission, byte for byte, as from the
    training folder it was exported from (BN mode batch: no dependence on running statistics
    that a static run leaves at init)."""
    from track1.interop import export_supernet
    cands, _ = _candidates(tmp_path, fm_profile, n=8)
    trained = load_trained(ckpt)
    # ofa_dp: the official demo's multi-GPU layout (the others differ by a prefix: tests/test_interop.py)
    file = export_supernet(trained.network(), tmp_path / "sn_ofa_dp.pdparams", layout="ofa_dp")
    outs = []
    for src in (ckpt, file):
        out = tmp_path / f"from_{Path(src).name}.json"
        p = _predict("--checkpoint", src, "--candidates", cands, "--out", out, "--set", "score.bn=batch")
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    # damaged weights: one line naming the file, exit 2
    bad = tmp_path / "bad.pdparams"
    bad.write_bytes(b"\x00not a pickle" * 10)
    p = _predict("--checkpoint", bad, "--candidates", cands, "--out", tmp_path / "x.json")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 2 and len(err.strip().splitlines()) == 1 and "bad.pdparams" in err, err
