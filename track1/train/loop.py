"""Supernet training: the run's pieces from its config (`prepare`), a short step loop
(`train`), and what happens at the end of every epoch (`EpochEnd`: weights mirrored for
evaluation, checkpoint, evaluation, GT ranking, logging).

One numpy Generator, seeded by `seed`, draws everything random in order: the data order
and augmentation of every global batch, then the step's sub-networks. All ranks draw the
same stream (each keeps its slice of the global batch), so all ranks train the same
sub-networks; `paddle.seed(seed)` fixes the initial weights.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paddle
import paddle.distributed as dist

from ..config import repo_path
from ..data import fixed_subset, load_splits
from ..errors import UserError
from ..identity import identity_hash
from ..io_utils import FileLock
from ..models.supernet import SuperNet
from ..runtime import checkpoint
from ..runtime.optim import lr_at, step_budget
from ..runtime.static import weights_only
from ..version import code_version
from .engines import DygraphEngine, StaticEngine, SupernetTask
from .meter import StepMeter
from .validation import evaluate_subnet, rank_against_gt
from .samplers import ArchSampler
from .strategies import STRATEGIES, make_strategy, run_sections
from .teacher import make_teacher


class TrainError(UserError, ValueError):
    """A configuration that cannot train; raised before any training step."""


def out_dir(train_section) -> Path:
    return repo_path(train_section["out_dir"])


def supernet_definition(cfg, profile) -> dict:
    """What shapes the supernet a run trains: the profile and, for a strategy that declared
    weight branches, the branches."""
    if STRATEGIES.meta(cfg["train"]["strategy"])["branches"]:
        pr = cfg["progressive"]
        return {"branch_groups": [list(g) for g in pr["branch_groups"]], "branch_stages": list(pr["branch_stages"])}
    return {}


def config_hash(cfg) -> str:
    """The training run's identity: its checkpoint is resumed only under the same one."""
    strategy = cfg["train"]["strategy"]
    return identity_hash("supernet", cfg, extra_keys=run_sections(strategy)[4:])


@dataclass
class Run:
    """A training run resolved from its config: everything the loop and the callbacks use."""
    cfg: object
    profile: object
    net: SuperNet
    engine: object
    strategy: object
    sampler: ArchSampler
    splits: dict
    train_split: object
    steps_per_epoch: int
    total: int                   # the configured length (schedule, "finished")
    stop: int                    # where this invocation stops (--max-steps)
    lr_fn: object
    out: Path
    rank: int = 0
    world: int = 1
    pool: list | None = None
    gt: dict | None = None
    meta_base: dict = field(default_factory=dict)


def prepare(cfg, profile, max_steps: int | None = None, candidates=None, whole_space=None) -> Run:
    """`whole_space`: the space `train.gt` and the candidate file were drawn from when it is
    wider than the run's (a few-shot part: the parent's); the run then watches the GT codes
    and samples the candidates of its own part."""
    t = cfg["train"]
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    if t["engine"] == "static" and world > 1:
        raise TrainError("train.engine=static runs in one process; use train.engine=dygraph with the "
                         "distributed launcher")
    if t["batch_size"] % (world * t["accumulate"]):
        raise TrainError(f"train.batch_size {t['batch_size']} is not divisible by {world} ranks x "
                         f"{t['accumulate']} micro-batches (train.accumulate)")
    if t["engine"] == "static":
        dygraph_only = [k for k, neutral in (("amp", "fp32"), ("backward", "joint"), ("accumulate", 1),
                                             ("distill_teacher", None)) if t[k] != neutral]
        if dygraph_only:
            raise TrainError(f"config key 'train.{dygraph_only[0]}': {t[dygraph_only[0]]!r} needs train.engine=dygraph "
                             "(the static engine is the CPU path: one masked program, float32)")
    pool = None
    if t["sample_from"] == "candidates":
        if not candidates:
            raise TrainError("train.sample_from=candidates needs a candidate file (--candidates or $TRACK1_CANDIDATES)")
        from ..candidates import load_candidates
        pool = [c.code for c in load_candidates(candidates, whole_space or profile.space)
                if profile.space.is_valid(c.code)]
        if not pool:
            raise TrainError(f"train.sample_from=candidates: no code of {candidates} lies in this run's space")
    sampler = ArchSampler(profile.space, pool)
    teacher = make_teacher(cfg, profile, pool) if STRATEGIES.meta(t["strategy"])["teacher"] else None
    strategy = make_strategy(cfg, sampler, teacher)
    gt = _load_gt(t["gt"], profile, whole_space) if t["gt"] else None
    if gt and t["gt_watch"]:
        gt = watched(gt, profile, t["gt_watch"])

    splits = load_splits(cfg["data"], profile)
    train_split = fixed_subset(splits["train"], t["train_images"], cfg["data"]["split_seed"])
    bs = t["batch_size"]
    steps_per_epoch, total, warmup = step_budget(len(train_split), bs, t["epochs"], t["warmup_epochs"], "train",
                                                 TrainError)
    # --max-steps only moves `stop`: a truncated run followed by --resume trains exactly as
    # one uninterrupted run.
    stop = total if max_steps is None else min(total, max_steps)
    lr_fn = lambda s: lr_at(s, total, warmup, t["lr"], "cosine")  # noqa: E731

    definition = supernet_definition(cfg, profile)
    paddle.seed(cfg["seed"])
    net = SuperNet.from_definition(profile, definition)
    init = repo_path(t["init"]) if t["init"] else None
    if init:
        _init_from(net, init)
    if t["reorder"]:
        # Narrow sub-networks slice the leading channels: make them the most important ones.
        from ..models.reorder import reorder_by_importance
        reorder_by_importance(net)
    frozen = _frozen_teacher(repo_path(t["distill_teacher"]), profile) if t["distill_teacher"] else None
    task = SupernetTask(lambda: SuperNet.from_definition(profile, definition), t["label_smoothing"], net.open_stages,
                        frozen)
    if t["engine"] == "static":
        engine = StaticEngine(task, t, lr_fn, {k: v.numpy() for k, v in net.state_dict().items()})
    else:
        engine = DygraphEngine(net, task, t, lr_fn)
    meta_base = {"config_hash": config_hash(cfg), "code_version": code_version(),
                 "inputs": _input_hashes(pool, init)}
    return Run(cfg, profile, net, engine, strategy, sampler, splits, train_split, steps_per_epoch, total, stop,
               lr_fn, out_dir(t), rank, world, pool, gt, meta_base)


def train(cfg, profile, resume: bool = False, log=print, max_steps: int | None = None, candidates=None,
          overwrite: bool = False, whole_space=None) -> dict:
    """Train the supernet of `cfg` (validated) on `profile`; `resume` continues its
    checkpoint; without it an out_dir that holds a run is refused unless `overwrite`."""
    # One writer per out_dir: a second run (even with --resume) would interleave its
    # checkpoints with this one's. Taken before the (slow) preparation, so a second run is
    # refused at once, not after the first has finished. Rank 0 alone writes and locks.
    with _out_dir_lock(cfg["train"]):
        run = prepare(cfg, profile, max_steps, candidates, whole_space)
        with run.strategy.teacher or contextlib.nullcontext():    # a lazy teacher's workers end here
            return _train(run, cfg, resume, overwrite, log)


LOCK_FILE = ".lock"         # in train.out_dir, held while a run writes there


def _out_dir_lock(train_section):
    if dist.is_initialized() and dist.get_rank() != 0:
        return contextlib.nullcontext()
    out = out_dir(train_section)
    return FileLock(out, lock_file=out / LOCK_FILE, what="train.out_dir")


def _train(run: Run, cfg, resume: bool, overwrite: bool, log) -> dict:
    if not resume and not overwrite:
        held = [f for f in ("checkpoint.npz", "supernet.npz") if (run.out / f).is_file()]
        if held:
            raise TrainError(f"train.out_dir '{run.out}' already holds {held[0]}: pass --resume to continue it, "
                             "another train.out_dir, or --overwrite to start afresh")
    t = cfg["train"]
    rng = np.random.default_rng(cfg["seed"])
    step, history, found = 0, [], None
    if resume:
        found = _resume(run, rng, log)
        if found is not None and found.get("finished"):
            return found["result"]
        if found is not None:
            step, history = found["step"], found["history"]
    end = EpochEnd(run, rng, history, log)
    if found is not None and not found["evaluated"]:
        end.redo_evaluation(step)
    aug = dict(augment=t["augment"], pad=cfg["data"]["pad_crop"], flip=cfg["data"]["flip"])
    from tqdm import tqdm
    # Closed however the loop ends: an error message then starts on a line of its own
    # instead of behind the bar's last redraw.
    with tqdm(total=run.stop, initial=step, desc=f"{t['strategy']}/{t['engine']}", unit="step",
              disable=run.rank != 0, mininterval=5) as bar:
        meter = StepMeter(t["log_every"], t["batch_size"], end.writer, run.lr_fn, bar)
        # time_s counts the whole run's kept steps: a resumed run adds its segments (the
        # part of an epoch a crash lost is not counted; it is trained again).
        t0 = time.time() - (history[-1]["time_s"] if history else 0.0)
        while step < run.stop:
            tick = time.time()
            for x, y in run.train_split.batches(t["batch_size"], rng, drop_last=True, part=(run.rank, run.world), **aug):
                got = time.time()
                # A phase may start mid-epoch: its branches open at its first step.
                _open_phase_branches(run, step / run.steps_per_epoch)
                plan = run.strategy.plan(step / run.steps_per_epoch, rng)
                parts = run.engine.step(plan, x, y)
                step += 1
                done = time.time()
                meter.add(step, parts, plan, got - tick, done - tick)
                tick = done
                bar.update(1)
                if step >= run.stop or step % run.steps_per_epoch == 0:
                    break
            end(step, meter.epoch_means(), time.time() - t0)
    if run.rank == 0:
        _write_final(run, history)
    return {"steps": step, "history": history, "out_dir": str(run.out)}


class EpochEnd:
    """What happens at the end of every epoch (or of a truncated run), in order: the weights
    mirrored into the dygraph supernet (evaluation reads it; the static engine keeps its own
    in its scope), a resumable checkpoint, evaluation of the largest / smallest sub-networks,
    the GT ranking when due, the epoch's line in the log and VisualDL, the checkpoint again."""

    def __init__(self, run: Run, rng, history: list, log):
        self.run, self.rng, self.history, self.log = run, rng, history, log
        self.writer = _writer(run.out) if run.rank == 0 else None

    def __call__(self, step, means: dict, elapsed: float):
        run = self.run
        summary = {"epoch": round(step / run.steps_per_epoch, 3), "step": step, "time_s": round(elapsed, 1), **means}
        if run.world > 1:
            run.engine.sync_buffers()
        state = run.engine.state()
        run.net.set_state_dict(weights_only(state))
        # Resumable at epoch boundaries (the generator state then decides the rest of the
        # run) and at the run's end; not after a mid-epoch --max-steps stop. Written before
        # the evaluation, so a kill during it loses no training, and again after it.
        resumable = step % run.steps_per_epoch == 0 or step >= run.total
        if run.rank == 0:
            # The epoch's entry is in the history before the first save: a kill during the
            # evaluation then loses the evaluation alone, and the resumed run redoes it.
            self.history.append(summary)
            if resumable:
                self._save(state, step, evaluated=False)
            self._finish(summary, state, step, resumable)
        if run.world > 1:
            _check_ranks_agree(state)

    def _finish(self, summary, state, step, resumable):
        summary.update(self._evaluate(step))
        if self.writer:
            for k, v in summary.items():
                if k not in ("epoch", "step") and isinstance(v, (int, float)):
                    self.writer.add_scalar(f"epoch/{k}", v, step)
        self.log(_epoch_line(summary))
        if resumable:
            self._save(state, step)

    def redo_evaluation(self, step):
        """After resuming from a checkpoint written before its epoch's evaluation."""
        if self.run.rank == 0 and self.history and self.history[-1]["step"] == step:
            self._finish(self.history[-1], self.run.engine.state(), step, True)

    def _save(self, state, step, evaluated: bool = True):
        run = self.run
        checkpoint.save(run.out / "checkpoint", state,
                        {**run.meta_base, "step": step, "history": self.history, "rng": self.rng.bit_generator.state,
                         "open_stages": sorted(run.net.open_stages), "finished": step >= run.total,
                         "evaluated": evaluated})

    def _evaluate(self, step) -> dict:
        run, t = self.run, self.run.cfg["train"]
        if t["eval_images"] <= 0:
            return {}
        out = {}
        for name, code in (("largest", run.sampler.largest()), ("smallest", run.sampler.smallest())):
            out[f"val_acc_{name}"] = evaluate_subnet(run.net, code, run.splits["val"], run.train_split, t["eval_images"],
                                                     t["bn_recalib_images"], seed=run.cfg["seed"])["acc"]
        epoch = (step - 1) // run.steps_per_epoch if step else 0
        due = (t["rank_every"] and (epoch + 1) % t["rank_every"] == 0) or step >= run.stop
        if run.gt and due:
            out.update(rank_against_gt(run.net, run.gt, run.splits["val"], run.train_split,
                                       min(t["eval_images"], 1000), min(t["bn_recalib_images"], 500), run.cfg["seed"]))
        return out


def _resume(run: Run, rng, log) -> dict | None:
    """Continue from the run's checkpoint if one exists: refused under another config or
    other inputs; a finished run is left alone."""
    ckpt = run.out / "checkpoint"
    found = checkpoint.load(ckpt)
    if found is None:
        return None
    arrays, meta = found
    base = run.meta_base
    if meta["config_hash"] != base["config_hash"]:
        raise TrainError(f"checkpoint '{ckpt}.npz' was written with another config "
                         f"({meta['config_hash']} vs {base['config_hash']}); use another train.out_dir, "
                         f"or delete '{run.out}' to train afresh")
    for what, h in meta.get("inputs", {}).items():
        if h != base["inputs"].get(what):
            raise TrainError(f"checkpoint '{ckpt}.npz' was trained with another {_INPUT_NAMES[what]}; "
                             f"use another train.out_dir, or delete '{run.out}' to train afresh")
    if meta.get("finished") and (run.out / "supernet.npz").is_file():
        log(f"{ckpt}.npz: this run finished at step {meta['step']}; {run.out / 'supernet.npz'} is its supernet")
        return {"finished": True, "result": {"steps": meta["step"], "history": meta["history"], "out_dir": str(run.out)}}
    checkpoint.check_state(arrays, {k: v.shape for k, v in run.net.state_dict().items()}, f"{ckpt}.npz")
    run.net.open_branches(meta.get("open_stages", []))
    run.engine.load_state(arrays)
    # The static engine keeps its weights in its own scope: `net` (written out as the
    # supernet at the end) must hold them too, even if no step follows.
    run.net.set_state_dict(weights_only(arrays))
    rng.bit_generator.state = meta["rng"]
    log(f"resumed from {ckpt}.npz at step {meta['step']} (epoch {meta['step'] / run.steps_per_epoch:.2f})")
    return {"step": meta["step"], "history": meta["history"], "evaluated": meta.get("evaluated", True)}


def _check_ranks_agree(state):
    """Every rank must hold the same weights (same sub-networks, averaged gradients)."""
    total = np.float64(sum(float(np.abs(v).sum()) for v in weights_only(state).values()))
    t = paddle.to_tensor(np.array([total, -total], np.float64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    hi, neg_lo = t.numpy()
    if abs(hi + neg_lo) > 1e-6 * max(1.0, abs(hi)):
        raise RuntimeError(f"ranks hold different weights (checksums {-neg_lo} .. {hi})")


def _open_phase_branches(run: Run, epoch_f):
    want = set(run.strategy.phase(epoch_f).get("open", []))
    if not want - run.net.open_stages:
        return
    if isinstance(run.engine, DygraphEngine):
        run.net.open_branches(sorted(want))          # the engine trains `net` itself
        return
    state = run.engine.state()
    run.net.set_state_dict(weights_only(state))
    run.net.open_branches(sorted(want))
    run.engine.load_state({**state, **{k: v.numpy() for k, v in run.net.state_dict().items()}})


_INPUT_NAMES = {"pool": "candidate pool (train.sample_from=candidates)", "init": "train.init weights file"}


def _input_hashes(pool, init) -> dict:
    """What decides training besides the config: the candidate pool's codes, the init weights."""
    import hashlib
    out = {}
    if pool is not None:
        out["pool"] = hashlib.sha256("\n".join(pool).encode()).hexdigest()[:16]
    if init:
        p = Path(init)
        if p.is_file():
            from ..io_utils import file_hash
            out["init"] = file_hash(p)
    return out


def _init_from(net, path):
    try:
        weights = checkpoint.load_weights(path)
    except FileNotFoundError as e:
        raise TrainError(f"config key 'train.init': {e}") from None
    own = net.state_dict()
    for k, v in weights.items():
        if k not in own:
            raise TrainError(f"train.init '{path}': unknown tensor '{k}' (expected the largest code's stand-alone net)")
        if tuple(own[k].shape) != tuple(v.shape):
            raise TrainError(f"train.init '{path}': tensor '{k}' has shape {tuple(v.shape)}, the supernet "
                             f"{tuple(own[k].shape)}")
        if not np.isfinite(v).all():
            raise TrainError(f"train.init '{path}': tensor '{k}' holds non-finite values")
    net.set_state_dict(weights)


def _frozen_teacher(path, profile):
    """The largest code's stand-alone network with the weights of `path`, frozen."""
    from ..models.standalone import StandaloneNet
    teacher = StandaloneNet(profile, profile.space.max_code())
    _load_exactly(teacher, path, "train.distill_teacher")
    for p in teacher.parameters():
        p.stop_gradient = True
    teacher.eval()
    return teacher


def _load_exactly(net, path, key):
    try:
        weights = checkpoint.load_weights(path)
    except FileNotFoundError as e:
        raise TrainError(f"config key '{key}': {e}") from None
    checkpoint.check_state(weights, {k: v.shape for k, v in net.state_dict().items()}, path, optional=())
    net.set_state_dict(weights)


def watched(gt: dict, profile, n: int) -> dict:
    """At most `n` of the GT's entries, evenly spaced in MAC order (the smallest and the
    largest among them): the tau the run logs is a diagnostic, and every watched code costs
    one evaluation at the end of training."""
    if len(gt) <= n:
        return gt
    order = sorted(gt, key=lambda k: (profile.cost(gt[k]["arch"])["macs"], k))
    picks = sorted({round(i * (len(order) - 1) / (n - 1)) for i in range(n)}) if n > 1 else [0]
    return {order[i]: gt[order[i]] for i in picks}


def _load_gt(path, profile, whole_space=None):
    """The GT entries the run watches: every one, validated against the run's space, or, with
    a wider `whole_space` (a few-shot part's parent), validated against that one and those of the
    run's own space kept (None when fewer than 3 remain: no tau to watch; `gt_n` in the
    history says how many a part watched)."""
    p = repo_path(path)
    if not p.is_file():
        raise TrainError(f"config key 'train.gt': no GT file at '{p}' (set train.gt=null to train without one)")
    from ..candidates import read_official
    gt = read_official(p, whole_space or profile.space, need_acc=True, what="GT file")
    if whole_space is not None:
        gt = {k: v for k, v in gt.items() if profile.space.is_valid(v["arch"])}
        return gt if len(gt) >= 3 else None
    return gt


def _epoch_line(s: dict) -> str:
    keys = [k for k in s if k not in ("epoch", "step", "time_s")]
    body = ", ".join(f"{k} {s[k]:.4f}" for k in keys if isinstance(s[k], float))
    return f"epoch {s['epoch']:.2f} (step {s['step']}, {s['time_s']:.0f}s): {body}"


def _writer(out: Path):
    try:
        from visualdl import LogWriter
    except ImportError:
        return None
    return LogWriter(logdir=str(out / "vdl"))


def _write_final(run: Run, history):
    """The final supernet, with what scoring needs to rebuild it (its definition: profile,
    the data split that holds out the scored images, weight branches) and, for reference,
    the config it was trained with."""
    from ..io_utils import atomic_write_text
    cfg = run.cfg
    definition = {"profile": dict(cfg["profile"]), "split": {k: cfg["data"][k] for k in ("dataset", "val_size", "split_seed")},
                  **run.net.definition()}
    checkpoint.save(run.out / "supernet", {k: v.numpy() for k, v in run.net.state_dict().items()},
                    {"supernet": definition, "engine": cfg["train"]["engine"],
                     "config": {k: v for k, v in cfg.items() if not k.startswith("_")},
                     "config_source": cfg.get("_path"), "open_stages": sorted(run.net.open_stages),
                     "history": history, "code_version": code_version()})
    atomic_write_text(run.out / "history.json", json.dumps(history, indent=1) + "\n")
