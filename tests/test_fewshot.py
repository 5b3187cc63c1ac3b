"""Few-shot supernets: a split routes every code to exactly one part, a part before
fine-tuning scores like its parent, and train + predict make one complete submission."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, train_run
from track1.candidates import Candidate
from track1.config import load_config
from track1.profile import Profile
from track1.runtime import checkpoint
from track1.scoring.run import score_candidates
from track1.scoring.trained import load_trained, scoring_config
from track1.train.fewshot import FewShotError, part_profiles, route

TINY = ["train.train_images=64", "train.batch_size=32", "train.epochs=1", "train.warmup_epochs=0",
        "train.eval_images=0", "train.engine=dygraph", "train.gt=null", "train.strategy=sandwich",
        "sandwich.n_random=0", "fewshot.epochs=0.5"]
SCORE = ["score.images=16", "score.jobs=1", "score.chunk=8", "score.group=2"]


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    d = tmp_path_factory.mktemp("parent")
    train_run(load_config(None, TINY + [f"train.out_dir={d}"]), log=lambda m: None)
    return d


def test_every_code_falls_in_exactly_one_part(fm_cfg, fm_profile):
    spaces = [Profile.from_section(p).space for p in part_profiles(fm_cfg.profile, 2, [[2, 3, 4], [5, 6, 7, 8]])]
    codes = fm_profile.space.sample_codes(300, seed=4)
    parts = route(codes, spaces)
    depth3 = [fm_profile.space.parse(c).depths[2] for c in codes]
    assert parts == [0 if d <= 4 else 1 for d in depth3] and set(parts) == {0, 1}
    with pytest.raises(FewShotError, match="do not cover"):
        part_profiles(fm_cfg.profile, 2, [[2, 3], [5, 6, 7, 8]])
    with pytest.raises(FewShotError, match="contiguous"):
        part_profiles(fm_cfg.profile, 2, [[2, 4, 6, 8], [3, 5, 7]])


def test_a_part_before_fine_tuning_scores_like_its_parent(parent, tmp_path, fm_cfg):
    part_profile = part_profiles(fm_cfg.profile, 2, [[2, 3, 4], [5, 6, 7, 8]])[0]
    part = tmp_path / "part0"
    shutil.copytree(parent, part)
    arrays, meta = checkpoint.load(part / "supernet")
    meta["supernet"]["profile"] = part_profile
    checkpoint.save(part / "supernet", arrays, meta)
    mine = load_trained(part)
    codes = [c for c in Profile.from_section(fm_cfg.profile).space.sample_codes(60, seed=2) if mine.profile.space.is_valid(c)][:6]
    cands = [Candidate(f"a{i}", c, c) for i, c in enumerate(codes)]
    whole = load_trained(parent)
    a = score_candidates(whole, scoring_config(whole, None, SCORE), cands, tmp_path / "a.jsonl", log=lambda m: None)
    b = score_candidates(mine, scoring_config(mine, None, SCORE), cands, tmp_path / "b.jsonl", log=lambda m: None)
    assert len(codes) == 6 and a == b


def test_train_and_predict_make_one_complete_submission(parent, tmp_path, fm_profile):
    codes = fm_profile.space.sample_codes(12, seed=8)
    cands = tmp_path / "c.json"
    cands.write_text(json.dumps({f"arch{i}": {"arch": c} for i, c in enumerate(codes, 1)}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    sets = [a for o in TINY + SCORE + [f"train.out_dir={parent}"] for a in ("--set", o)]
    tool = [sys.executable, str(REPO / "tools" / "fewshot.py")]
    r = subprocess.run(tool + ["train", *sets], capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert all((parent / "fewshot" / f"part{k}" / "supernet.npz").is_file() for k in (0, 1))
    out = tmp_path / "sub.json"
    r = subprocess.run(tool + ["predict", *sets, "--candidates", str(cands), "--out", str(out)], capture_output=True,
                       text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    sub = json.loads(out.read_text())
    assert list(sub) == [f"arch{i}" for i in range(1, 13)] and all(np.isfinite(v["acc"]) for v in sub.values())
    # calibrated by the parent: the same submission up to one shift per part
    cal_out = tmp_path / "cal.json"
    r = subprocess.run(tool + ["predict", *sets, "--set", "fewshot.calibrate=parent", "--candidates", str(cands),
                               "--out", str(cal_out)], capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    cal = json.loads(cal_out.read_text())
    part = route(codes, [load_trained(parent / "fewshot" / f"part{k}").profile.space for k in (0, 1)])
    shift = {}
    for k, c in zip(part, cal):
        shift.setdefault(k, []).append(cal[c]["acc"] - sub[c]["acc"])
    assert all(np.ptp(v) < 1e-6 for v in shift.values()) and (cal_out.parent / "cal.json.parent.partial.jsonl").is_file()
    # the parts were fine-tuned: their weights left the parent's
    p, _ = checkpoint.load(parent / "supernet")
    q, _ = checkpoint.load(parent / "fewshot" / "part1" / "supernet")
    assert any(not np.array_equal(p[k], q[k]) for k in p)


def test_a_part_watches_the_gt_codes_of_its_own_part(tmp_path, fm_cfg, fm_profile):
    # train.gt spans the whole space; a part's space refuses the codes of the other part, so
    # the part validates the GT against the parent's space and keeps its own codes.
    from track1.candidates import CandidateError
    from track1.train import fewshot, loop
    part0, part1 = (Profile.from_section(p) for p in part_profiles(fm_cfg.profile, 2, [[2, 3, 4], [5, 6, 7, 8]]))
    codes = fm_profile.space.sample_codes(40, seed=5)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({f"arch{i}": {"arch": c, "acc": 0.5 + i / 100} for i, c in enumerate(codes)}))
    watched = loop._load_gt(gt, part0, fm_profile.space)
    want = {f"arch{i}" for i, c in enumerate(codes) if part0.space.is_valid(c)}
    assert set(watched) == want and 3 <= len(want) < len(codes)
    with pytest.raises(CandidateError, match="out of range"):
        loop._load_gt(gt, part0)                          # a run's own GT must fit its space
    few = tmp_path / "few.json"
    two = [c for c in codes if part1.space.is_valid(c)][:2]
    few.write_text(json.dumps({f"x{i}": {"arch": c, "acc": 0.5} for i, c in enumerate(two)}))
    assert len(two) == 2 and loop._load_gt(few, part1, fm_profile.space) is None   # no tau from 2 codes
    # A real part trained with a whole-space GT (the bug: its space refused the other part's
    # codes at its first step, before any training) watches its own part's codes.
    sets = [o for o in TINY if o != "train.gt=null"] + [f"train.gt={gt}", "train.eval_images=32",
                                                        "train.bn_recalib_images=32"]
    cfg = load_config(None, sets)
    parent_dir = tmp_path / "parent"
    train_run(load_config(None, TINY + [f"train.out_dir={parent_dir}"]), log=lambda m: None)
    dirs = fewshot.train_parts(cfg, Profile.from_section, parent_dir, 2, [[2, 3, 4], [5, 6, 7, 8]], 0.25,
                               tmp_path / "parts", log=lambda m: None)
    history = json.loads((Path(dirs[0]) / "history.json").read_text())
    assert history[-1]["gt_n"] == len(want)


def test_calibrated_parts_keep_their_order_within_and_the_parents_level_between(parent, tmp_path, fm_cfg, fm_profile):
    # Two parts made from the parent by hand: part 0 an exact copy, part 1 with its last BN's
    # scale changed, so it scores on another level. Calibrated, each part's mean is the
    # parent's mean over the part's candidates, and the order within a part is unchanged.
    from track1.train.fewshot import score_parts
    dirs = []
    for k, prof in enumerate(part_profiles(fm_cfg.profile, 2, [[2, 3, 4], [5, 6, 7, 8]])):
        d = tmp_path / f"part{k}"
        shutil.copytree(parent, d)
        arrays, meta = checkpoint.load(d / "supernet")
        meta["supernet"]["profile"] = prof
        if k == 1:
            bn = sorted(n for n in arrays if n.endswith(".weight") and arrays[n].ndim == 1)[-1]
            arrays[bn] = arrays[bn] * 3.0
        checkpoint.save(d / "supernet", arrays, meta)
        dirs.append(d)
    codes = fm_profile.space.sample_codes(16, seed=11)
    cands = [Candidate(f"a{i}", c, c) for i, c in enumerate(codes)]
    cfg_of = lambda t: scoring_config(t, None, SCORE)  # noqa: E731
    quiet = lambda m: None  # noqa: E731
    plain = np.array(score_parts(dirs, cands, cfg_of, tmp_path / "plain.json", log=quiet))
    cal = np.array(score_parts(dirs, cands, cfg_of, tmp_path / "cal.json", log=quiet, parent_dir=parent))
    whole = load_trained(parent)
    ref = score_candidates(whole, cfg_of(whole), cands, tmp_path / "ref.jsonl", log=quiet)
    ref = np.array([ref[i] for i in range(len(cands))])
    part = np.array(route(codes, [load_trained(d).profile.space for d in dirs]))
    assert set(part) == {0, 1}
    np.testing.assert_array_equal(plain[part == 0], ref[part == 0])            # the copy scores as the parent
    assert not np.allclose(plain[part == 1], ref[part == 1])                    # the changed part does not
    for k in (0, 1):
        assert cal[part == k].mean() == pytest.approx(ref[part == k].mean(), abs=1e-9)
        np.testing.assert_allclose(cal[part == k] - plain[part == k], (cal - plain)[part == k][0], atol=1e-12)


def test_parts_start_as_the_parents_exact_copy_and_refuse_a_branching_parent(fm_cfg):
    from track1.config import with_overrides
    from track1.train.fewshot import part_overrides
    cfg = load_config(None, ["train.reorder=true"])
    for over in part_overrides(cfg, "/p", 2, [[2, 3, 4], [5, 6, 7, 8]], 0.5, "/p/fewshot"):
        assert with_overrides(cfg, over)["train"]["reorder"] is False     # the parent's order is kept
    with pytest.raises(FewShotError, match="train.strategy=progressive"):
        part_overrides(load_config(None, ["train.strategy=progressive"]), "/p", 2, [[2, 3, 4], [5, 6, 7, 8]], 0.5, "/p")


def test_a_part_samples_the_candidates_of_its_own_part(tmp_path, fm_cfg, fm_profile):
    from track1.train import loop
    from track1.train.loop import TrainError
    part0 = Profile.from_section(part_profiles(fm_cfg.profile, 2, [[2, 3, 4], [5, 6, 7, 8]])[0])
    codes = fm_profile.space.sample_codes(30, seed=9)
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps({f"arch{i}": {"arch": c} for i, c in enumerate(codes)}))
    cfg = load_config(None, TINY + ["train.sample_from=candidates", f"train.out_dir={tmp_path / 'o'}"])
    run = loop.prepare(cfg, part0, candidates=pool, whole_space=fm_profile.space)
    want = [c for c in codes if part0.space.is_valid(c)]
    assert run.pool == want and 0 < len(want) < len(codes)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({f"b{i}": {"arch": c} for i, c in enumerate(c for c in codes if c not in want)}))
    with pytest.raises(TrainError, match="lies in this run's space"):
        loop.prepare(cfg, part0, candidates=other, whole_space=fm_profile.space)


def test_scoring_parts_refuses_running_bn_of_a_static_part(parent, tmp_path):
    from track1.scoring.trained import ScoreError
    from track1.train.fewshot import score_parts
    part = tmp_path / "part0"
    shutil.copytree(parent, part)
    arrays, meta = checkpoint.load(part / "supernet")
    checkpoint.save(part / "supernet", arrays, {**meta, "engine": "static"})
    with pytest.raises(ScoreError, match="score.bn=running"):
        score_parts([part], [], lambda t: scoring_config(t, None, SCORE + ["score.bn=running"]), tmp_path / "s.json",
                    log=lambda m: None)


def test_predict_refuses_parts_that_score_every_candidate_alike(parent, tmp_path, fm_cfg, fm_profile):
    """Parts whose classifier is zero give every candidate the same score: the submission is
    refused in one line (as predict.py does), and written with --allow-degenerate."""
    root = tmp_path / "parent"
    shutil.copytree(parent, root, ignore=shutil.ignore_patterns("fewshot"))
    for k, prof in enumerate(part_profiles(fm_cfg.profile, 2, [[2, 3, 4], [5, 6, 7, 8]])):
        d = root / "fewshot" / f"part{k}"
        shutil.copytree(parent, d, ignore=shutil.ignore_patterns("fewshot"))
        arrays, meta = checkpoint.load(d / "supernet")
        meta["supernet"]["profile"] = prof
        for n in arrays:
            if ".fc." in n:
                arrays[n] = np.zeros_like(arrays[n])
        checkpoint.save(d / "supernet", arrays, meta)
    cands = tmp_path / "c.json"
    cands.write_text(json.dumps({f"arch{i}": {"arch": c} for i, c in enumerate(fm_profile.space.sample_codes(6, seed=3))}))
    sets = [a for o in TINY + SCORE + [f"train.out_dir={root}"] for a in ("--set", o)]
    tool = [sys.executable, str(REPO / "tools" / "fewshot.py"), "predict", *sets, "--candidates", str(cands)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = tmp_path / "sub.json"
    r = subprocess.run(tool + ["--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 2 and "does not tell candidates apart" in r.stderr and not out.exists(), r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("error: every one of the 6 scores")
    r = subprocess.run(tool + ["--out", str(out), "--allow-degenerate"], capture_output=True, text=True, timeout=600,
                       env=env)
    assert r.returncode == 0 and len(json.loads(out.read_text())) == 6, r.stderr[-2000:]
