import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from track1.config import ConfigError, load_config
from track1.data import load_splits
from track1.models import SuperNet
from track1.profile import Profile
from conftest import build_supernet, train_run as train
from track1.runtime import checkpoint
from track1.train.engines import DygraphEngine, StaticEngine, SupernetTask
from track1.train.loop import TrainError
from track1.train.losses import margin_ranking
from track1.train.samplers import ArchSampler, GroupDistance, distance_quantile, hamming_distance, sample_distant
from track1.train.strategies import STRATEGIES, StepPlan, make_strategy, rank_weight
from track1.train.teacher import Teacher, TeacherError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny(tmp_path, *extra):
    return ["train.train_images=256", "train.batch_size=32", "train.epochs=2", "train.warmup_epochs=0.1",
            "train.eval_images=64", "train.bn_recalib_images=64", "train.engine=dygraph", "train.gt=null",
            f"train.out_dir={tmp_path}", "train.log_every=1", "train.lr=0.05",
            "progressive.phases=[{epochs: 0.5, depth: false, width: false, base: spos, open: []},"
            "{epochs: 1.5, depth: true, width: true, base: sandwich, open: [3]}]", *extra]


def test_sampler_restrictions(fm_profile):
    s = ArchSampler(fm_profile.space)
    rng = np.random.default_rng(0)
    fixed = s.restricted(fix_depth=True, fix_width=True)
    assert {fixed.sample(rng) for _ in range(5)} == {fm_profile.space.max_code()}
    d = s.restricted(fix_width=True)
    for _ in range(10):
        a = fm_profile.space.parse(d.sample(rng))
        assert a.stem == 1 and all(c1 == 1 and c2 == 1 for st in a.blocks for c1, c2 in st)
    w = s.restricted(fix_depth=True)
    assert all(fm_profile.space.parse(w.sample(rng)).depths == (5, 5, 8, 5) for _ in range(10))
    assert fm_profile.space.parse(w.smallest()).depths == (5, 5, 8, 5)


def test_group_distance_on_hand_made_pairs():
    gd = GroupDistance([[[2, 3], [4, 5]]] * 2 + [[[2, 3, 4], [5, 6, 7, 8]]] + [[[2, 3], [4, 5]]],
                       [[1, 2, 3], [4, 5, 6, 7]], near=0.5, far=2.0)
    base = "1558511111111111111111111111111111111111111111111111"
    assert gd(base, base) == 0.0
    assert gd(base, base[:6] + "2" + base[7:]) == 0.5           # 1 -> 2: same width group
    assert gd(base, base[:6] + "5" + base[7:]) == 2.0           # 1 -> 5: other group
    assert gd(base, base[:1] + "4" + base[2:]) == 0.5           # depth 5 -> 4, same group
    assert gd(base, base[:1] + "2" + base[2:]) == 2.0           # depth 5 -> 2, other group
    # a block present in one code and absent in the other is far, whatever its width
    a = "1222233333000000333300000055550000000000007777000000"
    b = "1322233333330000333300000055550000000000007777000000"
    assert gd(a, b) == 0.5 + 2.0 + 2.0                        # depth 2->3 (near), "00"->"33" twice (far)
    assert hamming_distance(a, b) == 3.0


def test_distant_sampling_respects_threshold(fm_profile):
    s = ArchSampler(fm_profile.space)
    rng = np.random.default_rng(1)
    codes = sample_distant(s, rng, 4, hamming_distance, 20.0)
    for i in range(4):
        for j in range(i + 1, 4):
            assert hamming_distance(codes[i], codes[j]) >= 20


def test_distance_quantile_rejects_that_share_of_random_pairs(fm_profile):
    s = ArchSampler(fm_profile.space)
    rng = np.random.default_rng(5)
    fresh = [hamming_distance(s.sample(rng), s.sample(rng)) for _ in range(1000)]
    for q in (0.25, 0.5, 0.75):
        t = distance_quantile(s, hamming_distance, q, seed=0)
        assert np.mean(np.array(fresh) < t) == pytest.approx(q, abs=0.06)
    assert distance_quantile(s, hamming_distance, 0.5, seed=0) == distance_quantile(s, hamming_distance, 0.5, seed=0)


def test_rdnas_refuses_a_teacher_that_is_not_a_teacher(fm_profile):
    # A bare scoring function has no prefetch: refused when the strategy is made, not at its
    # first step.
    cfg = load_config(None, ["train.strategy=rdnas"])
    with pytest.raises(TypeError, match="wrap a scoring function in Teacher"):
        make_strategy(cfg, ArchSampler(fm_profile.space), fm_profile.macs)
    assert make_strategy(cfg, ArchSampler(fm_profile.space), Teacher(fm_profile.macs)).teacher is not None


@pytest.mark.parametrize("sampler", ["group", "hamming"])
def test_rdnas_pair_sampler_filters(fm_cfg, fm_profile, sampler):
    # The filter must change what is trained: with the default quantile, a share of the
    # first random draws is rejected, so the step codes differ from the unfiltered run's.
    teacher = Teacher(fm_profile.macs)
    plans = {}
    for name in (sampler, "none"):
        st = make_strategy(load_config(None, [f"rdnas.sampler={name}", "train.strategy=rdnas"]),
                           ArchSampler(fm_profile.space), teacher)
        rng = np.random.default_rng(0)
        plans[name] = [st.plan(1.0, rng).codes for _ in range(20)]
        if name == sampler:
            assert st.threshold > 0
            dist = st.distance
            for codes in plans[name]:
                assert dist(codes[2], codes[3]) >= st.threshold
    assert plans[sampler] != plans["none"]


def test_the_schema_names_every_registered_strategy():
    from track1.config import SCHEMA
    assert sorted(SCHEMA["train"]["strategy"].choices) == STRATEGIES.names()
    for name in STRATEGIES:
        meta = STRATEGIES.meta(name)
        assert set(meta) >= {"sections", "teacher", "branches"} and all(sec in SCHEMA for sec in meta["sections"])


def test_margin_ranking_value_and_gradient_sign():
    li = paddle.to_tensor(1.0, stop_gradient=False)
    lj = paddle.to_tensor(1.2, stop_gradient=False)
    # teacher: i better (s = +1); L_j - L_i = 0.2 < m = 0.5 -> loss 0.3, pushes L_i down and L_j up
    loss = margin_ranking(li, lj, 1.0, 0.5)
    assert loss.item() == pytest.approx(0.3)
    loss.backward()
    assert float(li.grad) > 0 and float(lj.grad) < 0            # gradient descent lowers L_i
    assert margin_ranking(li, lj, 1.0, 0.1).item() == 0.0        # order already kept by the margin
    assert margin_ranking(li, lj, -1.0, 0.0).item() == pytest.approx(0.2)
    assert margin_ranking(li, lj, 1.0, 0.0).item() == 0.0        # m = 0: the competition code


def test_the_trained_rank_term_is_margin_ranking_on_the_fed_pair_weights():
    """plan_loss's ranking part is the sum of margin_ranking over the plan's pairs, with the
    per-pair weights pair_inputs feeds: w * mean |s| * max(0, m - s (L_j - L_i))."""
    from track1.train.losses import nll, pair_inputs, plan_loss
    rng = np.random.default_rng(0)
    logits = [paddle.to_tensor(rng.normal(size=(8, 10)).astype("float32")) for _ in range(3)]
    y = paddle.to_tensor(rng.integers(0, 10, 8))
    plan = StepPlan(["a", "b", "c"], ["label", "distill", "distill"], [(0, 1, 1.0), (1, 2, -1.0), (0, 2, 0.0)],
                    rank_weight=1.5, margin=0.2)
    a, b = pair_inputs(plan)
    _, parts = plan_loss(logits, plan.roles, y, paddle.to_tensor(a), paddle.to_tensor(b),
                         [(i, j) for i, j, _ in plan.pairs], 0.0, 1.0)
    losses = [float(nll(lg, y)) for lg in logits]
    by_hand = sum(abs(s) * max(0.0, 0.2 - s * (losses[j] - losses[i])) for i, j, s in plan.pairs) * 1.5 / 3
    assert parts["rank"].item() == pytest.approx(by_hand, rel=1e-5)
    assert by_hand > 0


def test_rank_weight_ramp():
    r = {"lambda_max": 2.0, "ramp_epochs": 10}
    assert rank_weight(0, r) == 0 and rank_weight(5, r) == 0.5 and rank_weight(30, r) == 2.0


def test_rdnas_plan_pairs_follow_the_teacher(fm_cfg, fm_profile):
    cfg = load_config(None, ["rdnas.teacher=params", "train.strategy=rdnas"])
    teacher = Teacher(fm_profile.params)
    st = make_strategy(cfg, ArchSampler(fm_profile.space), teacher)
    plan = st.plan(1.0, np.random.default_rng(0))
    assert len(plan.codes) == 2 + cfg.sandwich.n_random and plan.roles[0] == "label"
    assert plan.rank_weight == pytest.approx(min(2.0, 1.0 / cfg.rdnas.ramp_epochs))
    assert plan.margin == cfg.rdnas.margin and plan.temperature == cfg.sandwich.temperature
    for i, j, s in plan.pairs:
        assert s == np.sign(teacher(plan.codes[i]) - teacher(plan.codes[j]))


def test_imagenet_profile_trains_end_to_end(tmp_path):
    """The imagenet YAML's own code path (ImageFolder data, 3-channel 7x7 stem + max-pool,
    its train section) at a tiny resolution and batch: shapes and wiring, not accuracy."""
    from conftest import make_imagefolder
    root = make_imagefolder(tmp_path / "imnet", {"train": 4, "val": 2})
    cfg = load_config("imagenet", [f"data.root={root}", "profile.num_classes=3", "profile.image_size=32",
                                   "data.val_size=3", "data.workers=0", "train.batch_size=4", "train.epochs=1",
                                   "train.warmup_epochs=0", "train.eval_images=3", "train.bn_recalib_images=4",
                                   "train.threads=1", f"train.out_dir={tmp_path / 'out'}", "train.log_every=1"])
    assert cfg.train.engine == "dygraph" and cfg.train.gt is None
    res = train(cfg, log=lambda m: None)
    arrays, meta = checkpoint.load(tmp_path / "out" / "supernet")
    prof = Profile.from_section(cfg.profile)
    assert any(v.shape[1:] == (3, 7, 7) for v in arrays.values() if v.ndim == 4)     # the RGB 7x7 stem
    assert all(np.isfinite(v).all() for v in arrays.values())
    # 12 images, 3 held out for validation, batch 4: 2 steps; the history holds the epoch's evaluation
    assert res["steps"] == 2 and meta["config"]["profile"]["name"] == prof.name == "imagenet"
    assert 0.0 <= res["history"][-1]["val_acc_largest"] <= 1.0
    # and its supernet scores candidates (the scorer holds decoded ImageFolder images)
    from track1.candidates import Candidate
    from track1.scoring.run import score_candidates
    from track1.scoring.trained import load_trained, scoring_config
    trained = load_trained(tmp_path / "out")
    scfg = scoring_config(trained, "imagenet", [f"data.root={root}", "data.workers=0", "score.images=3",
                                                "score.recal_images=4", "score.bn=recal"])
    # without a data.root of its own, scoring reads the one the supernet was trained on
    assert scoring_config(trained, "imagenet", ["data.workers=0", "score.images=3"]).data.root == str(root)
    kc = [Candidate(f"a{i}", c, c) for i, c in enumerate(prof.space.sample_codes(2, seed=0) + [prof.space.max_code()])]
    scores = score_candidates(trained, scfg, kc, tmp_path / "part.jsonl", jobs=1, log=lambda m: None)
    assert sorted(scores) == [0, 1, 2] and all(np.isfinite(v) for v in scores.values())


def _probe_loss(net, profile, x, y):
    """The largest sub-network's loss on a fixed batch, BN on batch statistics."""
    net.train()
    net.set_active_subnet(profile.space.max_code())
    with paddle.no_grad():
        return float(paddle.nn.functional.cross_entropy(net(paddle.to_tensor(x)), paddle.to_tensor(y)))


@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_every_strategy_trains_and_lowers_the_loss(tmp_path, strategy):
    cfg = load_config(None, tiny(tmp_path, f"train.strategy={strategy}", "rdnas.teacher=flops",
                                 "train.epochs=3", "train.bn_recalib_images=0", "train.eval_images=0"))
    prof = Profile.from_section(cfg.profile)
    x, y = load_splits(cfg.data, cfg.profile)["val"].arrays(limit=256)
    paddle.seed(cfg.seed)
    before = _probe_loss(build_supernet(cfg, prof), prof, x, y)
    res = train(cfg, log=lambda m: None)
    arrays, meta = checkpoint.load(tmp_path / "supernet")
    net = build_supernet(cfg, prof)
    net.open_stages = set(meta["open_stages"])
    net.set_state_dict(arrays)
    after = _probe_loss(net, prof, x, y)
    assert np.isfinite(after) and after < before - 0.3, (before, after)
    if strategy == "progressive":
        assert meta["open_stages"] == [3]
        conv = net.blocks[net.slots[3][0]].conv1
        assert not np.array_equal(conv.weight.numpy(), conv.branch_weights[0].numpy())
    if strategy == "rdnas":
        assert "rank" in res["history"][-1]


@pytest.mark.parametrize("override,msg", [
    ("train.strategy=nope", "'nope' is not one of ['spos', 'sandwich', 'progressive', 'rdnas']"),
    ("progressive.phases=[{epochs: 1, depth: true, width: true, base: spos, open: [1]}]",
     "stage 1 is not in progressive.branch_stages"),
    ("progressive.phases=[]", "needs at least one phase"),
    ("progressive.phases=[{epochs: 1, depth: true}]", "progressive.phases[0].width': missing"),
    ("rdnas.sampler=closest", "'closest' is not one of"),
    ("train.warmup_epochs=50", "exceeds epochs"),
])
def test_bad_training_configs(tmp_path, override, msg):
    with pytest.raises(ConfigError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        load_config(None, tiny(tmp_path, override))


def test_progressive_phase_past_the_budget_is_refused(tmp_path):
    # tiny(): phases of 0.5 + 1.5 epochs; with 0.5 epochs of training the second never starts
    with pytest.raises(ConfigError, match=r"progressive.phases\[1\]': starts at epoch 0.5"):
        load_config(None, tiny(tmp_path, "train.strategy=progressive", "train.epochs=0.5", "train.warmup_epochs=0"))
    load_config(None, tiny(tmp_path, "train.epochs=0.5", "train.warmup_epochs=0"))     # other strategies: unused
    for name in ("fashion_mnist", "imagenet"):
        load_config(name, ["train.strategy=progressive"])                                # shipped schedules fit


def test_a_rank_average_teacher_is_the_mean_percentile_of_its_members(fm_profile):
    """flops+params: each member votes by its percentile among the reference codes (a seeded
    sample of the space, no pool here), so a code that is big in one and small in the other
    lands between; one name stays the raw proxy; the sandwich's ends get ranks 1 and 0."""
    from track1.train.teacher import REFERENCE_CODES, make_teacher
    avg = make_teacher(load_config(None, ["rdnas.teacher=flops+params"]), fm_profile, None)
    flops = make_teacher(load_config(None, ["rdnas.teacher=flops"]), fm_profile, None)
    params = make_teacher(load_config(None, ["rdnas.teacher=params"]), fm_profile, None)
    assert flops(fm_profile.space.max_code()) == fm_profile.macs(fm_profile.space.max_code())
    ref = fm_profile.space.sample_codes(REFERENCE_CODES, seed=0)
    f, p = np.array([flops(c) for c in ref]), np.array([params(c) for c in ref])
    codes = fm_profile.space.sample_codes(40, seed=11)
    for c in codes:
        want = ((f < flops(c)).mean() + (f <= flops(c)).mean() + (p < params(c)).mean() + (p <= params(c)).mean()) / 4
        assert avg(c) == pytest.approx(want, abs=1e-12)
    assert avg(fm_profile.space.max_code()) == 1.0 and avg(fm_profile.space.min_code()) == 0.0
    # The average is its own order: some pair it ranks against flops' order, some against params'.
    pairs = [(a, b) for i, a in enumerate(codes) for b in codes[i + 1:]]
    sign = lambda t, a, b: np.sign(t(a) - t(b))  # noqa: E731
    assert any(sign(avg, a, b) != sign(flops, a, b) for a, b in pairs)
    assert any(sign(avg, a, b) != sign(params, a, b) for a, b in pairs)


def test_a_rank_average_teacher_ranks_within_the_candidate_pool(tmp_path, fm_profile):
    """With a pool, the reference is the pool: its codes' mean percentiles follow from their
    ranks within it; a cached network proxy joins an analytic one."""
    from track1.proxies.batch import compute_many
    from track1.train.teacher import make_teacher
    pool = fm_profile.space.sample_codes(6, seed=3)
    cfg = load_config(None, ["rdnas.teacher=naswot+flops", f"proxies.cache_dir={tmp_path}/cache",
                             "proxies.batch_size=16", "rdnas.pairs=random"])
    nas = compute_many(cfg, fm_profile, "naswot", pool, progress=False)
    avg = make_teacher(cfg, fm_profile, pool)
    rank = lambda v: (np.argsort(np.argsort(v)) + 0.5) / len(v)  # noqa: E731  (no ties here)
    want = (rank(np.array([nas[c] for c in pool])) + rank(np.array([fm_profile.macs(c) for c in pool]))) / 2
    assert [avg(c) for c in pool] == pytest.approx(list(want), abs=1e-12)


@pytest.mark.parametrize("teacher, message", [("flops+nope", "unknown proxy 'nope'"),
                                              ("flops+flops", "names a proxy twice")])
def test_a_bad_rank_average_teacher_is_refused(fm_profile, teacher, message):
    from track1.train.teacher import make_teacher
    with pytest.raises(TeacherError, match=message):
        make_teacher(load_config(None, [f"rdnas.teacher={teacher}"]), fm_profile, None)


def test_rdnas_trains_with_a_rank_average_teacher(tmp_path):
    cfg = load_config(None, tiny(tmp_path, "train.strategy=rdnas", "rdnas.teacher=flops+params",
                                 "train.eval_images=0", "rdnas.threshold_quantile=0"))
    assert train(cfg, max_steps=2, log=lambda m: None)["steps"] == 2


def test_missing_teacher_cache_fails_before_training(tmp_path, official_file):
    cfg = load_config(None, tiny(tmp_path, "train.strategy=rdnas", "rdnas.teacher=zen",
                                 "train.sample_from=candidates", f"proxies.cache_dir={tmp_path}/cache"))
    with pytest.raises(TeacherError, match="teacher cache .* lacks 45000 of the 45000 pool codes"):
        train(cfg, candidates=official_file)
    cfg = load_config(None, tiny(tmp_path, "train.strategy=rdnas", "rdnas.teacher=zen+flops"))
    with pytest.raises(TeacherError, match="'zen'\\) is ranked within the candidate pool"):
        train(cfg)


def test_a_network_proxy_teacher_scores_the_drawn_subnets_as_batch_runs_do(tmp_path, fm_profile):
    """No pool: naswot scores each sub-network training draws, in a worker, into the proxy
    cache; the cached numbers are the batch tool's, and a second run that finds them all
    cached trains bit for bit as the first (the proxy's seeding stays out of training)."""
    import multiprocessing as mp
    from track1.proxies.batch import compute_many
    from track1.train.teacher import LazyProxyTeacher, make_teacher
    cache = tmp_path / "cache"
    sets = ["train.strategy=rdnas", "rdnas.teacher=naswot", "train.eval_images=0", "proxies.batch_size=16",
            "rdnas.threshold_quantile=0", f"proxies.cache_dir={cache}"]
    first = load_config(None, tiny(tmp_path / "a", *sets))
    assert train(first, max_steps=3, log=lambda m: None)["steps"] == 3
    assert not mp.active_children()
    (path,) = cache.glob("*.jsonl")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    scored = {r["arch"]: r["score"] for r in lines}
    assert len(scored) == len(lines) >= 4           # the sandwich's ends and the random nets, once each
    fresh = load_config(None, [*sets[:-1], f"proxies.cache_dir={tmp_path}/fresh"])
    batch = compute_many(fresh, fm_profile, "naswot", list(scored), progress=False)
    assert batch == scored
    second = load_config(None, tiny(tmp_path / "b", *sets))
    teacher = make_teacher(second, fm_profile, None)
    assert isinstance(teacher, LazyProxyTeacher) and set(teacher.cached) == set(scored)
    train(second, max_steps=3, log=lambda m: None)
    assert path.read_text().splitlines() == [json.dumps(r) for r in lines]     # nothing recomputed
    (a, _), (b, _) = (checkpoint.load(tmp_path / d / "supernet") for d in ("a", "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _run_train(tmp_path, args, log):
    return subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "train.py"), *args],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    sets = lambda d: [a for o in tiny(d, "train.epochs=3", "train.strategy=sandwich") for a in ("--set", o)]  # noqa: E731
    full, cut = tmp_path / "full", tmp_path / "cut"
    p = _run_train(tmp_path, sets(full), tmp_path / "full.log")
    p.wait(timeout=600)
    assert p.returncode == 0, (tmp_path / "full.log").read_text()[-2000:]
    p = _run_train(tmp_path, sets(cut), tmp_path / "cut.log")
    deadline = time.time() + 600
    while time.time() < deadline:
        meta = cut / "checkpoint.json"
        if meta.is_file() and json.loads(meta.read_text())["step"] >= 8:
            break
        assert p.poll() is None, (tmp_path / "cut.log").read_text()[-2000:]
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not (cut / "supernet.npz").exists()
    p = _run_train(tmp_path, sets(cut) + ["--resume"], tmp_path / "resume.log")
    p.wait(timeout=600)
    assert p.returncode == 0, (tmp_path / "resume.log").read_text()[-2000:]
    assert "resumed from" in (tmp_path / "resume.log").read_text()
    a, _ = checkpoint.load(full / "supernet")
    b, _ = checkpoint.load(cut / "supernet")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # a changed training setting never resumes from the old run's checkpoint
    changed = load_config(None, tiny(cut, "train.epochs=3", "train.strategy=sandwich", "train.lr=0.07"))
    with pytest.raises(TrainError, match="written with another config .* or delete"):
        train(changed, resume=True, log=lambda m: None)


def test_two_process_data_parallel(tmp_path):
    """2 CPU ranks (gloo): the run checks every epoch that both ranks hold the same weights;
    after one step the weights equal one process applying the mean of the two half-batch
    gradients (each half with its own BN batch statistics, as on its rank)."""
    out = tmp_path / "dp"
    over = tiny(out, "train.strategy=spos", "train.epochs=1", "train.eval_images=0", "train.momentum=0.0",
                "train.weight_decay=0.0", "train.warmup_epochs=0.0")
    args = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
            str(tmp_path / "logs"), os.path.join(REPO, "tools", "train.py"), "--max-steps", "1"]
    args += [a for o in over for a in ("--set", o)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("workerlog.*"))
    assert r.returncode == 0, logs[-3000:]
    dp, _ = checkpoint.load(out / "supernet")
    # one process, same seed: same init, same sub-network, same global batch
    cfg = load_config(None, over)
    prof = Profile.from_section(cfg.profile)
    from track1.data import fixed_subset
    splits = load_splits(cfg.data, cfg.profile)
    train_split = fixed_subset(splits["train"], 256, cfg.data.split_seed)
    rng = np.random.default_rng(cfg.seed)
    x, y = next(train_split.batches(32, rng, drop_last=True, augment=False))
    plan = make_strategy(cfg, ArchSampler(prof.space)).plan(0.0, rng)
    paddle.seed(cfg.seed)
    net = build_supernet(cfg, prof)
    net.train()
    net.set_active_subnet(plan.codes[0])
    for half in (slice(0, 16), slice(16, 32)):
        loss = paddle.nn.functional.cross_entropy(net(paddle.to_tensor(x[half])), paddle.to_tensor(y[half]),
                                                  label_smoothing=cfg.train.label_smoothing) / 2
        loss.backward()
    lr = 0.05      # first step of cosine without warmup
    for k, p in net.named_parameters():
        if p.grad is not None:
            np.testing.assert_allclose(dp[k], p.numpy() - lr * p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


def test_config_hash_covers_what_the_strategy_reads(tmp_path):
    from track1.train.loop import config_hash

    def h(*extra):
        return config_hash(load_config(None, tiny(tmp_path, *extra)))
    assert h() == h("rdnas.margin=0.3", "train.log_every=7")               # sandwich reads neither
    assert h() != h("sandwich.n_random=3")
    assert h("train.strategy=rdnas") != h("train.strategy=rdnas", "rdnas.margin=0.3")
    assert h("train.strategy=spos") == h("train.strategy=spos", "sandwich.n_random=3")


def test_a_finished_or_started_run_is_never_overwritten_silently(tmp_path):
    cfg = load_config(None, tiny(tmp_path, "train.strategy=spos", "train.eval_images=0", "train.epochs=0.25",
                                 "train.warmup_epochs=0"))
    train(cfg, log=lambda m: None)
    before = (tmp_path / "supernet.npz").read_bytes()
    with pytest.raises(TrainError, match="already holds checkpoint.npz: pass --resume to continue it"):
        train(cfg, log=lambda m: None)
    assert (tmp_path / "supernet.npz").read_bytes() == before
    train(cfg, overwrite=True, log=lambda m: None)          # asked for: starts afresh (same seed, same result)
    assert (tmp_path / "supernet.npz").is_file()


def test_a_resumed_run_counts_the_time_of_its_earlier_segments(tmp_path):
    """time_s is the run's training time so far, not the last segment's: the epoch after a
    resume adds to what the checkpoint recorded (here inflated to 1000 s to tell them apart)."""
    cfg = load_config(None, tiny(tmp_path, "train.strategy=spos", "train.eval_images=0"))
    train(cfg, max_steps=8, log=lambda m: None)                 # one epoch of two
    arrays, meta = checkpoint.load(tmp_path / "checkpoint")
    assert [h["step"] for h in meta["history"]] == [8]
    meta["history"][0]["time_s"] = 1000.0
    checkpoint.save(tmp_path / "checkpoint", arrays, meta)
    hist = train(cfg, resume=True, log=lambda m: None)["history"]
    assert [h["step"] for h in hist] == [8, 16]
    assert 1000.0 < hist[1]["time_s"] < 1000.0 + 600


def test_progressive_phase_opens_its_branches_mid_epoch(tmp_path):
    # tiny(): the second phase (open: [3]) starts at epoch 0.5 = step 4 of 8 per epoch
    cfg = load_config(None, tiny(tmp_path, "train.strategy=progressive", "train.eval_images=0"))
    train(cfg, max_steps=6, log=lambda m: None)
    assert checkpoint.load(tmp_path / "supernet")[1]["open_stages"] == [3]


def test_gt_ranking_needs_evaluation_images_and_an_existing_gt(tmp_path, fm_cfg):
    gt = os.path.join(REPO, fm_cfg.train.gt)
    cfg = load_config(None, tiny(tmp_path, "train.eval_images=0", f"train.gt={gt}", "train.epochs=0.25",
                                 "train.warmup_epochs=0"))
    res = train(cfg, log=lambda m: None)                       # no GT ranking, no crash
    assert "tau" not in json.dumps(res["history"]) and (tmp_path / "supernet.npz").is_file()
    with pytest.raises(TrainError, match="config key 'train.gt': no GT file at"):
        train(load_config(None, tiny(tmp_path, f"train.gt={tmp_path}/nope.json")), log=lambda m: None)


def test_rdnas_network_teacher_from_a_candidate_pool_ranks_the_sandwich_ends(tmp_path, fm_profile):
    """The largest and smallest nets are rarely candidates: their teacher scores are computed
    at start (pairs: all), not looked up in vain at the first step."""
    from track1.proxies.batch import compute_many
    codes = fm_profile.space.sample_codes(4, seed=3)
    cands = tmp_path / "c.json"
    cands.write_text(json.dumps({f"arch{i}": {"arch": c, "acc": 0} for i, c in enumerate(codes, 1)}))
    cfg = load_config(None, tiny(tmp_path, "train.strategy=rdnas", "rdnas.teacher=naswot", "train.eval_images=0",
                                 "train.sample_from=candidates", f"proxies.cache_dir={tmp_path}/cache",
                                 "proxies.batch_size=16", "rdnas.threshold_quantile=0"))
    compute_many(cfg, fm_profile, "naswot", codes, progress=False)
    assert train(cfg, max_steps=2, candidates=cands, log=lambda m: None)["steps"] == 2


def test_a_kill_during_the_evaluation_loses_only_the_evaluation_which_the_resume_redoes(tmp_path, monkeypatch):
    """Found by benchmarks/faults.py: the checkpoint written before an epoch's evaluation
    held the history without that epoch, so a kill during the evaluation dropped the epoch
    from the history for good. Now its entry is saved first and a resume evaluates it."""
    from track1.train.loop import EpochEnd
    full, cut = tmp_path / "full", tmp_path / "cut"
    train(load_config(None, tiny(full, "train.strategy=spos")), log=lambda m: None)
    real = EpochEnd._evaluate

    def dies_at_the_first_epoch_end(self, step):
        raise KeyboardInterrupt("killed during the evaluation")
    monkeypatch.setattr(EpochEnd, "_evaluate", dies_at_the_first_epoch_end)
    with pytest.raises(KeyboardInterrupt):
        train(load_config(None, tiny(cut, "train.strategy=spos")), log=lambda m: None)
    _, meta = checkpoint.load(cut / "checkpoint")
    assert meta["evaluated"] is False and [h["step"] for h in meta["history"]] == [8]
    monkeypatch.setattr(EpochEnd, "_evaluate", real)
    train(load_config(None, tiny(cut, "train.strategy=spos")), resume=True, log=lambda m: None)
    a, ma = checkpoint.load(full / "supernet")
    b, mb = checkpoint.load(cut / "supernet")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    drop = lambda h: {k: v for k, v in h.items() if k != "time_s"}  # noqa: E731
    assert [drop(h) for h in ma["history"]] == [drop(h) for h in mb["history"]]
    assert all("val_acc_largest" in h for h in mb["history"])
    assert not list(cut.glob(".checkpoint.*.npz"))


def test_a_run_watches_at_most_gt_watch_codes_spread_over_the_gts_macs(tmp_path, fm_profile):
    from track1.train.loop import prepare, watched
    codes = fm_profile.space.sample_codes(40, seed=3)
    gt = {f"a{i}": {"arch": c, "acc": 0.5 + i / 100} for i, c in enumerate(codes)}
    macs = {k: fm_profile.cost(v["arch"])["macs"] for k, v in gt.items()}
    got = watched(gt, fm_profile, 10)
    assert len(got) == 10 and all(gt[k] == v for k, v in got.items())
    assert min(macs, key=macs.get) in got and max(macs, key=macs.get) in got
    assert watched(gt, fm_profile, 40) == gt and list(watched(gt, fm_profile, 1)) == [min(macs, key=macs.get)]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    cfg = load_config(None, [f"train.gt={path}", "train.gt_watch=10", f"train.out_dir={tmp_path / 'o'}"])
    assert prepare(cfg, fm_profile).gt == got
    cfg = load_config(None, [f"train.gt={path}", "train.gt_watch=0", f"train.out_dir={tmp_path / 'o'}"])
    assert prepare(cfg, fm_profile).gt == {k: gt[k] for k in gt}
