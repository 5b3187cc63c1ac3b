"""Supernet training under the static (oneDNN masked-program) engine: its equivalence to the
dygraph engine, its weight branches and its resume. Split from test_train.py: each builds
static programs (a minute or more apiece), and a file is one unit of work for the test
runner's workers (tools/test.sh), so the long tests are spread over two files."""
import dataclasses

import numpy as np
import paddle
import pytest

from conftest import build_supernet, train_run as train
from test_train import tiny
from track1.config import load_config
from track1.data import load_splits
from track1.models import SuperNet
from track1.profile import Profile
from track1.runtime import checkpoint
from track1.train.engines import DygraphEngine, StaticEngine, SupernetTask
from track1.train.strategies import StepPlan


def test_progressive_opens_branches_under_the_static_engine(tmp_path):
    """The default engine: the phase that opens stage 4 hands the branches to the programs."""
    cfg = load_config(None, tiny(tmp_path, "train.strategy=progressive", "train.engine=static",
                                 "train.bn_recalib_images=64", "train.eval_images=0"))
    train(cfg, log=lambda m: None)
    arrays, meta = checkpoint.load(tmp_path / "supernet")
    assert meta["open_stages"] == [3]
    slot = build_supernet(cfg, Profile.from_section(cfg.profile)).slots[3][0]
    branch = arrays[next(k for k in arrays if k.endswith(f"blocks.{slot}.conv1.branch_weights.0"))]
    shared = arrays[next(k for k in arrays if k.endswith(f"blocks.{slot}.conv1.weight"))]
    # opened = copied from the shared weights, then trained apart: close but not equal
    # (a branch never opened keeps its own random init, uncorrelated with them)
    assert not np.array_equal(branch, shared)
    assert np.corrcoef(branch.ravel(), shared.ravel())[0, 1] > 0.5


@pytest.mark.parametrize("branched, activation", [(False, "relu"), (True, "relu"), (False, "mish")])
def test_static_engine_matches_dygraph(fm_profile, branched, activation):
    """One step of each plan from the same weights: same loss parts (forward: masks, gates,
    distillation, ranking) and the same updated weights and momentum (gradients). Longer
    comparisons are meaningless here: an untrained 48-layer net on one small batch is
    chaotic (a 1e-6 change of the weights moves the next step's loss by about 0.05).
    `branched`: progressive's supernet with stage 4's weight branches open (and moved away
    from the shared weights), so narrow codes train their own branch. `activation`: the static
    programs build the profile's activation too (its gradient included)."""
    fm_profile = dataclasses.replace(fm_profile, activation=activation)
    cfg = load_config(None, ["sandwich.n_random=1", "rdnas.margin=0.1"])
    splits = load_splits(cfg.data, cfg.profile)
    x, y = next(splits["train"].batches(16, np.random.default_rng(0)))
    pr = cfg.progressive
    make = (lambda: SuperNet(fm_profile, pr.branch_groups, pr.branch_stages)) if branched else \
        (lambda: SuperNet(fm_profile))
    opened = {3} if branched else set()
    paddle.seed(0)
    net0 = make()
    if branched:
        net0.open_branches(opened)
        for idx in net0.slots[3]:
            for conv in net0.blocks[idx].convs():
                for w in conv.branch_weights:
                    w.set_value(w * 0.8)
    state = {k: v.numpy() for k, v in net0.state_dict().items()}
    codes = [fm_profile.space.max_code(), fm_profile.space.min_code()] + fm_profile.space.sample_codes(1, 3)
    plans = [StepPlan(codes[2:], ["label"]),
             StepPlan(codes, ["label", "distill", "distill"], [(0, 1, 1.0), (0, 2, -1.0), (1, 2, 0.0)], 0.7),
             StepPlan(codes[::-1], ["label", "distill", "distill"], [(1, 2, 1.0)], 1.3)]
    for plan in plans:
        plan.margin, plan.temperature = cfg.rdnas.margin, cfg.sandwich.temperature
    lr = lambda s: 0.05  # noqa: E731
    ls = cfg.train.label_smoothing
    for plan in plans:
        net = make()
        net.open_stages = set(opened)
        net.set_state_dict(state)
        dy = DygraphEngine(net, SupernetTask(make, ls, net.open_stages), cfg.train, lr)
        st = StaticEngine(SupernetTask(make, ls, set(opened)), cfg.train, lr, state)
        a, b = dy.step(plan, x, y), st.step(plan, x, y)
        assert a.keys() == b.keys()
        for k in a:
            assert float(a[k]) == pytest.approx(b[k], rel=1e-5, abs=1e-5), k
        sa, sb = dy.state(), st.state()
        for k in sa:
            if not k.startswith("@") and "_mean" not in k and "_variance" not in k:
                np.testing.assert_allclose(sa[k], sb[k], rtol=1e-3, atol=2e-5, err_msg=f"{plan.roles} {plan.pairs} {k}")


def test_static_resume_after_max_steps_equals_uninterrupted_and_finished_runs_stay(tmp_path):
    """The static engine keeps its weights in its own scope: a resumed run must write them
    (not the fresh init) as the supernet, keep the configured lr schedule after a --max-steps
    stop, and leave a finished run's supernet alone when resumed again."""
    args = ("train.strategy=spos", "train.engine=static", "train.eval_images=0", "train.bn_recalib_images=0",
            "train.train_images=128")
    full = load_config(None, tiny(tmp_path / "full", *args))
    cut = load_config(None, tiny(tmp_path / "cut", *args))
    train(full, log=lambda m: None)
    assert train(cut, max_steps=4, log=lambda m: None)["steps"] == 4          # one epoch of two
    assert not checkpoint.load(tmp_path / "cut" / "checkpoint")[1]["finished"]
    train(cut, resume=True, log=lambda m: None)
    a, _ = checkpoint.load(tmp_path / "full" / "supernet")
    b, _ = checkpoint.load(tmp_path / "cut" / "supernet")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    before = (tmp_path / "cut" / "supernet.npz").read_bytes()
    msgs = []
    assert train(cut, resume=True, log=msgs.append)["steps"] == 8
    assert "this run finished" in msgs[-1] and (tmp_path / "cut" / "supernet.npz").read_bytes() == before
