"""The batched device scorer and engine selection (issue 19 items 2-3), on the CPU: the
batched scorer's code path is the one a GPU runs (dygraph, the supernet sliced in place), so
it is held to the reference scorer here; the GPU itself is checked by benchmarks/gpu_smoke.sh."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import branched_supernet, build_supernet, train_run
from track1.candidates import read_official
from track1.config import load_config
from track1.data import load_splits
from track1.identity import identity, identity_hash
from track1.profile import Profile
from track1.scoring.batched import BatchedScorer
from track1.scoring.common import score_images
from track1.scoring.engine import plan_engine
from track1.scoring.reference import ReferenceScorer
from track1.scoring.trained import ScoreError, load_trained, scoring_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCORE = ["score.images=40", "score.recal_images=24", "score.group=3", "score.chunk=7", "score.jobs=1"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A briefly trained dygraph supernet (BN running statistics and weights away from init)."""
    d = tmp_path_factory.mktemp("sn")
    cfg = load_config(None, ["train.train_images=512", "train.batch_size=32", "train.epochs=1",
                             "train.warmup_epochs=0.1", "train.eval_images=0", "train.engine=dygraph",
                             "train.gt=null", f"train.out_dir={d}", "train.strategy=sandwich"])
    train_run(cfg, log=lambda m: None)
    return d


def _settings(trained, overrides):
    cfg = scoring_config(trained, None, SCORE + list(overrides))
    st = dict(cfg.score)
    return st, score_images(load_splits(cfg.data, cfg.profile), st)


@pytest.mark.parametrize("bn, metric, chunk", [("batch", "neg_loss", 0), ("recal", "neg_loss", 0),
                                               ("running", "neg_loss", 0), ("recal", "prob", 10),
                                               ("batch", "acc", 0)])
def test_batched_scorer_equals_the_reference(ckpt, bn, metric, chunk):
    trained = load_trained(ckpt)
    st, imgs = _settings(trained, [f"score.bn={bn}", f"score.metric={metric}", f"score.recal_chunk={chunk}"])
    sp = trained.profile.space
    codes = sp.sample_codes(6, seed=3) + [sp.min_code(), sp.max_code()]
    ref = ReferenceScorer(trained.network(), imgs, st).score(codes)
    # batch=3: several read-backs; eval_chunk=16: the eval-mode forwards split (40 images)
    got = BatchedScorer(trained.network(), imgs, st, batch=3, eval_chunk=16).score(codes)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    assert len(set(np.round(ref, 6))) > 1                  # the candidates do differ


def test_recal_chunks_are_averaged_as_bn_recalibrate_does(ckpt):
    """recal_chunk N: per-chunk statistics averaged by size; different statistics (so part
    of the scores' identity), the same in the batched and the reference scorer."""
    trained = load_trained(ckpt)
    codes = trained.profile.space.sample_codes(3, seed=8)
    whole, imgs = _settings(trained, ["score.bn=recal", "score.metric=neg_loss"])
    parts = dict(whole, recal_chunk=10)
    a = BatchedScorer(trained.network(), imgs, whole).score(codes)
    b = BatchedScorer(trained.network(), imgs, parts).score(codes)
    assert not np.allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b, ReferenceScorer(trained.network(), imgs, parts).score(codes), rtol=1e-4, atol=1e-4)
    cfg = load_config(None)
    assert identity_hash("scores", load_config(None, ["score.recal_chunk=10"])) != identity_hash("scores", cfg)


@pytest.mark.parametrize("bn", ["batch", "recal", "running"])
def test_batched_scorer_with_open_weight_branches(bn):
    """A progressive supernet whose narrow codes run their own weight branches."""
    cfg = load_config(None, ["train.strategy=progressive", "score.images=24", "score.recal_images=16",
                             "score.metric=neg_loss", f"score.bn={bn}"])
    prof = Profile.from_section(cfg.profile)
    st = dict(cfg.score)
    imgs = score_images(load_splits(cfg.data, cfg.profile), st)
    net = branched_supernet(cfg, prof)
    opened = list(cfg.progressive.branch_stages)
    rng = np.random.default_rng(1)
    for _, layer in net.named_sublayers():
        if isinstance(layer, paddle.nn.BatchNorm2D):      # running statistics away from 0 / 1
            layer._mean.set_value(rng.normal(0, 0.1, layer._mean.shape).astype("float32"))
            layer._variance.set_value(rng.uniform(0.5, 2, layer._variance.shape).astype("float32"))
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}

    def fresh(open_stages):
        n = build_supernet(cfg, prof)
        n.set_state_dict(arrays)
        n.open_stages = set(open_stages)
        return n

    sp = prof.space
    codes = sp.sample_codes(4, seed=4) + [sp.min_code(), sp.max_code()]
    ref = ReferenceScorer(fresh(opened), imgs, st).score(codes)
    got = BatchedScorer(fresh(opened), imgs, st).score(codes)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    shared = BatchedScorer(fresh([]), imgs, st).score(codes)
    assert not np.allclose(shared, got, rtol=1e-4, atol=1e-4)      # the branches were used


def test_amp_code_path_runs(ckpt):
    """The AMP forward's code path on the CPU (the autocast region, the float32 casts of the
    recorded statistics and the logits) runs and stays near the float32 scores. Paddle 3's
    auto_cast does nothing on a CPU, which is why scoring refuses score.amp there (and why a
    scorer asked for it on the CPU without a dtype refuses too)."""
    trained = load_trained(ckpt)
    st, imgs = _settings(trained, ["score.bn=recal", "score.metric=prob", "score.amp=true"])
    codes = trained.profile.space.sample_codes(3, seed=1)
    ref = ReferenceScorer(trained.network(), imgs, dict(st, amp=False)).score(codes)
    got = BatchedScorer(trained.network(), imgs, st, amp="float16").score(codes)
    np.testing.assert_allclose(got, ref, atol=0.05)
    with pytest.raises(ScoreError, match="mixed precision runs on GPUs only"):
        BatchedScorer(trained.network(), imgs, st)


def _score(*overrides):
    return dict(load_config(None, list(overrides)).score)


def test_engine_auto_is_static_on_the_cpu_and_batched_on_a_gpu(monkeypatch):
    import track1.runtime.device as devices
    plan = plan_engine(_score(), "auto", 2)
    assert (plan.engine, plan.device, plan.amp, plan.jobs) == ("static", "cpu", None, 2)
    assert plan_engine(_score("score.engine=batched"), "auto", 2).engine == "batched"
    assert plan_engine(_score("score.engine=dygraph"), "cpu", 2).engine == "dygraph"
    for engine in ("auto", "batched", "dygraph"):         # no half precision on a CPU
        with pytest.raises(ScoreError, match="mixed precision runs on GPUs only"):
            plan_engine(_score("score.amp=true", f"score.engine={engine}"), "cpu", 2)
    with pytest.raises(ScoreError, match="static engine re-estimates BN on all recal_images"):
        plan_engine(_score("score.bn=recal", "score.recal_chunk=64"), "cpu", 2)
    with pytest.raises(devices.DeviceError, match="config key 'device': gpu"):
        plan_engine(_score(), "gpu", 2)
    # device resolution says GPU: batched, one process (under the launcher: one per GPU)
    monkeypatch.setattr(devices, "gpu_available", lambda: True)
    plan = plan_engine(_score(), "auto", 2)
    assert (plan.engine, plan.device, plan.amp, plan.jobs) == ("batched", "gpu", None, 1)
    assert plan_engine(_score("score.amp=true"), "gpu", 2).amp == "float16"
    with pytest.raises(ScoreError, match="the dygraph engine runs in float32 only"):
        plan_engine(_score("score.amp=true", "score.engine=dygraph"), "gpu", 2)
    assert plan_engine(_score("score.engine=static"), "auto", 2).device == "cpu"    # static: the CPU's
    with pytest.raises(devices.DeviceError, match="score.engine static runs on the CPU only"):
        plan_engine(_score("score.engine=static"), "gpu", 2)


def test_engine_is_not_in_the_scores_identity_amp_is():
    base = load_config(None)
    assert "amp" not in identity("scores", base)["score"]            # neutral: older results keep their hash
    assert "recal_chunk" not in identity("scores", base)["score"]
    for same in ("score.engine=batched", "score.engine=dygraph", "device=cpu"):
        assert identity_hash("scores", load_config(None, [same])) == identity_hash("scores", base)
    assert identity_hash("scores", load_config(None, ["score.amp=true"])) != identity_hash("scores", base)


def _candidates(tmp_path, prof, n=14):
    sp = prof.space
    base = sp.sample_codes(n // 2, seed=5)
    codes = base + [c[:16] + sp.sample_codes(1, seed=i + 6)[0][16:] for i, c in enumerate(base)]
    codes = list(dict.fromkeys(c for c in codes if sp.is_valid(c)))
    p = tmp_path / "cands.json"
    p.write_text(json.dumps({f"arch{i}": {"acc": 0.0, "arch": c} for i, c in enumerate(codes, 1)}))
    return p


def _predict(*args):
    sets = [a for o in SCORE for a in ("--set", o)]
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "predict.py"), *sets, *map(str, args)],
                          capture_output=True, text=True, timeout=900, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": REPO})


def test_predict_with_the_batched_engine_matches_the_static_one(ckpt, tmp_path, fm_profile):
    cands = _candidates(tmp_path, fm_profile)
    subs = {}
    for engine in ("static", "batched"):
        out = tmp_path / f"{engine}.json"
        p = _predict("--checkpoint", ckpt, "--candidates", cands, "--out", out, "--set", f"score.engine={engine}",
                     "--set", "score.bn=recal")
        assert p.returncode == 0, p.stderr[-3000:]
        assert f"{engine} engine on the CPU" in p.stdout, p.stdout
        subs[engine] = read_official(out, fm_profile.space, need_acc=True)
    assert list(subs["static"]) == list(subs["batched"])
    a = [subs["static"][k]["acc"] for k in subs["static"]]
    b = [subs["batched"][k]["acc"] for k in subs["static"]]
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


def test_device_gpu_without_one_is_one_line(ckpt, tmp_path):
    p = _predict("--checkpoint", ckpt, "--out", tmp_path / "g.json", "--set", "device=gpu")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "config key 'device': gpu, but" in p.stderr and not (tmp_path / "g.json").exists()
