"""The GPU users' training path, checked on CPU: per-sub-network backward, gradient
accumulation, AMP plumbing, a frozen distillation teacher, a pretrained start in the
official layout with L1 reordering, and results read every log_every steps."""
import numpy as np
import paddle
import pytest

from conftest import train_run
from track1.config import load_config
from track1.data import load_splits
from track1.models import StandaloneNet, SuperNet
from track1.profile import Profile
from track1.runtime import checkpoint
from track1.train.engines import DygraphEngine, SupernetTask
from track1.train.losses import pair_inputs, plan_loss
from track1.train.loop import TrainError, prepare
from track1.train.meter import StepMeter
from track1.train.strategies import StepPlan

CFG = load_config(None, ["sandwich.n_random=1"])
PROF = Profile.from_section(CFG.profile)


@pytest.fixture(scope="module")
def batch():
    return next(load_splits(CFG.data, PROF)["train"].batches(16, np.random.default_rng(0)))


def _plans():
    sp = PROF.space
    codes = [sp.max_code(), sp.min_code()] + sp.sample_codes(1, 3)
    return {"spos": StepPlan(codes[2:], ["label"]),
            "sandwich": StepPlan(codes, ["label", "distill", "distill"], temperature=1.0)}


def _engine(state, **settings):
    net = SuperNet(PROF)
    net.set_state_dict(state)
    task = SupernetTask(lambda: SuperNet(PROF), 0.1, net.open_stages)
    return DygraphEngine(net, task, {"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, **settings},
                         lambda s: 0.05), net


def _init_state():
    paddle.seed(0)
    return {k: v.numpy() for k, v in SuperNet(PROF).state_dict().items()}


@pytest.mark.parametrize("name", ["spos", "sandwich"])
def test_per_subnet_backward_equals_the_joint_one(batch, name):
    x, y = batch
    state = _init_state()
    plan = _plans()[name]
    joint, jnet = _engine(state)
    per, pnet = _engine(state, backward="per_subnet")
    a, b = joint.step(plan, x, y), per.step(plan, x, y)
    assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
    sa, sb = jnet.state_dict(), pnet.state_dict()
    moved = 0
    for k in sa:
        np.testing.assert_allclose(sa[k].numpy(), sb[k].numpy(), rtol=1e-4, atol=1e-6, err_msg=k)
        moved += not np.array_equal(sa[k].numpy(), state[k])
    assert moved > 10                       # the step changed the weights (both ways alike)


def test_accumulating_two_micro_batches_is_the_mean_of_their_gradients(batch):
    x, y = batch
    state = _init_state()
    plan = _plans()["sandwich"]
    acc, anet = _engine(state, accumulate=2)
    acc.step(plan, x, y)
    # By hand: each half's plan loss (its own BN batch statistics), halved, one Momentum step.
    net = SuperNet(PROF)
    net.set_state_dict(state)
    net.train()
    opt = paddle.optimizer.Momentum(paddle.optimizer.lr.LambdaDecay(1.0, lambda s: 0.05), momentum=0.9,
                                    use_nesterov=True, parameters=net.parameters(), weight_decay=5e-4)
    for half in (slice(0, 8), slice(8, 16)):
        xt, yt = paddle.to_tensor(x[half]), paddle.to_tensor(y[half])
        logits = []
        for code in plan.codes:
            net.set_active_subnet(code)
            logits.append(net(xt))
        pa, pb = (paddle.to_tensor(v) for v in pair_inputs(plan))
        total, _ = plan_loss(logits, plan.roles, yt, pa, pb, [], 0.1, 1.0)
        total = total + 0.0 * paddle.add_n([p.sum() for p in net.parameters() if not p.stop_gradient])
        (total / 2).backward()
    opt.step()
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(anet.state_dict()[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_amp_runs_and_lowers_the_loss(batch, amp):
    # Paddle 3.3.1's auto_cast has no effect on CPU (it says so): this checks the plumbing
    # (autocast, the fp16 GradScaler's scale / unscale / step); a GPU runs it for real
    # (benchmarks/gpu_smoke.sh).
    x, y = batch
    eng, _ = _engine(_init_state(), amp=amp)
    plan = _plans()["spos"]
    losses = [float(eng.step(plan, x, y)["loss"]) for _ in range(6)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert (eng.scaler is not None) == (amp == "fp16")


def test_dygraph_steps_return_device_tensors_read_every_log_every_steps(batch):
    x, y = batch
    eng, _ = _engine(_init_state())
    parts = eng.step(_plans()["spos"], x, y)
    assert isinstance(parts["loss"], paddle.Tensor)
    meter = StepMeter(log_every=3, images_per_step=16)
    plan = _plans()["spos"]
    vals = [1.0, 2.0, 4.0, 8.0]
    for i, v in enumerate(vals, 1):
        meter.add(i, {"loss": paddle.to_tensor(v)}, plan, 0.01, 0.1)
        assert len(meter.pending) == (0 if i == 3 else i % 3)     # read at step 3 only
    assert meter.epoch_means() == {"loss": pytest.approx(np.mean(vals))}
    meter.add(5, {"loss": paddle.to_tensor(float("nan"))}, plan, 0.0, 0.1)
    with pytest.raises(FloatingPointError, match="at step 4"):
        meter.flush()


def test_static_engine_refuses_dygraph_only_settings(tmp_path):
    for extra in ("train.amp=fp16", "train.backward=per_subnet", "train.accumulate=2"):
        cfg = load_config(None, ["train.engine=static", extra, f"train.out_dir={tmp_path}"])
        with pytest.raises(TrainError, match="needs train.engine=dygraph"):
            prepare(cfg, PROF)


def test_pretrained_start_in_the_official_layout_reordered_with_a_frozen_teacher(tmp_path, batch):
    """The official resnet48.pdparams is the largest code's stand-alone net in track1's own
    names: it loads as train.init and as the frozen teacher; reorder keeps the largest
    network's function and puts the important channels first; the teacher never changes."""
    paddle.seed(5)
    official = StandaloneNet(PROF, PROF.space.max_code())
    path = tmp_path / "resnet48.pdparams"
    paddle.save(official.state_dict(), str(path))
    cfg = load_config(None, ["train.engine=dygraph", "train.strategy=sandwich", "sandwich.n_random=1",
                             f"train.init={path}", "train.reorder=true", f"train.distill_teacher={path}",
                             "train.train_images=64", "train.batch_size=16", "train.epochs=1", "train.warmup_epochs=0",
                             "train.eval_images=0", "train.gt=null", f"train.out_dir={tmp_path / 'out'}"])
    run = prepare(cfg, PROF)
    x, _ = batch
    official.eval()
    run.net.eval()
    run.net.set_active_subnet(PROF.space.max_code())
    with paddle.no_grad():
        np.testing.assert_allclose(run.net(paddle.to_tensor(x)).numpy(), official(paddle.to_tensor(x)).numpy(),
                                   rtol=1e-4, atol=1e-4)
    w = run.net.blocks[1].conv1.weight.numpy()
    imp = np.abs(w).sum(axis=(1, 2, 3))
    assert np.all(np.diff(imp) <= 1e-6) and not np.allclose(w, official.blocks[1].conv1.weight.numpy())
    teacher = run.engine.task.frozen_teacher
    before = {k: v.numpy().copy() for k, v in teacher.state_dict().items()}
    plan = StepPlan([PROF.space.max_code(), PROF.space.min_code()], ["label", "distill"], temperature=1.0)
    with_teacher = [float(run.engine.step(plan, *batch)["distill1"]) for _ in range(2)]
    assert all(np.array_equal(before[k], v.numpy()) for k, v in teacher.state_dict().items())
    run.engine.task.frozen_teacher = None            # the step's largest net teaches instead
    assert float(run.engine.step(plan, *batch)["distill1"]) != pytest.approx(with_teacher[-1], rel=1e-3)
    res = train_run(cfg, log=lambda m: None)
    assert res["steps"] == 4 and all(np.isfinite(h["loss"]) for h in res["history"])
    bad = tmp_path / "bad.pdparams"
    paddle.save({k: v for k, v in list(official.state_dict().items())[:-1]}, str(bad))
    with pytest.raises(checkpoint.CheckpointError, match="is missing"):
        prepare(load_config(None, ["train.engine=dygraph", f"train.distill_teacher={bad}"]), PROF)
