"""The supernet training loop: data, strategy, engine, evaluation, logging, checkpoints.

One numpy Generator, seeded by `seed`, draws everything random in order: the data order
and augmentation of every global batch, then the step's sub-networks. All ranks draw the
same stream (each keeps its slice of the global batch), so all ranks train the same
sub-networks; `paddle.seed(seed)` fixes the initial weights.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import paddle
import paddle.distributed as dist

from ..config import REPO, section_hash
from ..data import load_splits
from ..gt.protocol import lr_at
from ..gt.trainer import training_subset
from ..models.supernet import SuperNet
from ..profile import Profile
from ..version import code_version
from . import checkpoint
from .engines import DygraphEngine, StaticEngine
from .evaluate import evaluate_subnet
from .samplers import ArchSampler
from .strategies import STRATEGIES


class TrainError(ValueError):
    """A configuration that cannot train; raised before any training step."""


def out_dir(cfg) -> Path:
    p = Path(cfg["train"]["out_dir"])
    return p if p.is_absolute() else REPO / p


def build_supernet(cfg, profile) -> SuperNet:
    pr = cfg["progressive"]
    if cfg["train"]["strategy"] == "progressive":
        return SuperNet(profile, pr["branch_groups"], pr["branch_stages"])
    return SuperNet(profile)


def make_teacher(cfg, profile, pool):
    """code -> teacher score (bigger = better): analytic proxies on the fly, the others from
    the proxy cache, which must already hold every code of the candidate pool."""
    from ..proxies import PROXIES, proxy_settings, score
    name = cfg["rdnas"]["teacher"]
    if name not in PROXIES:
        raise TrainError(f"config key 'rdnas.teacher': unknown proxy '{name}' (known: {', '.join(PROXIES.names())})")
    if not PROXIES.meta(name)["needs_net"]:
        st = proxy_settings(cfg)
        return lambda code: score(name, profile, code, st["seed"], st)
    if pool is None:
        raise TrainError(f"teacher '{name}' needs a network: set train.sample_from=candidates so the "
                         "teacher comes from the proxy cache of the candidate pool")
    from ..io_utils import read_jsonl
    from ..proxies.batch import cache_path, compute_many
    path = cache_path(cfg, name)
    cached = {r["arch"]: r["score"] for r in read_jsonl(path)} if path.is_file() else {}
    missing = [c for c in pool if c not in cached]
    if missing:
        raise TrainError(f"teacher cache '{path}' lacks {len(missing)} of the {len(pool)} pool codes: run "
                         f"`python tools/proxies.py --proxy {name}` on the same candidates first")
    if cfg["rdnas"]["pairs"] == "all":
        # The sandwich's largest and smallest nets are ranked too, and are rarely candidates:
        # two scores, computed here (and cached).
        cached.update(compute_many(cfg, name, [profile.space.max_code(), profile.space.min_code()],
                                   jobs=1, progress=False))

    def teacher(code):
        if code not in cached:
            raise TrainError(f"teacher '{name}': no cached score for sub-network {code} (not in the candidate pool)")
        return cached[code]
    return teacher


# The sections a strategy reads besides seed/profile/data/train: editing another strategy's
# schedule must not orphan a finished run's checkpoint.
_STRATEGY_SECTIONS = {"spos": (), "sandwich": ("sandwich",), "progressive": ("sandwich", "progressive"),
                      "rdnas": ("sandwich", "rdnas", "proxies")}


def config_hash(cfg) -> str:
    keys = ("seed", "profile", "data") + _STRATEGY_SECTIONS.get(cfg["train"]["strategy"],
                                                                 ("sandwich", "progressive", "rdnas", "proxies"))
    return section_hash({k: cfg[k] for k in keys} |
                        {"train": {k: v for k, v in cfg["train"].items()
                                   if k not in ("out_dir", "threads", "rank_every", "log_every", "gt")}})


def train(cfg, resume: bool = False, log=print, max_steps: int | None = None, candidates=None) -> dict:
    t_cfg = cfg["train"]
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    if t_cfg["engine"] == "static" and world > 1:
        raise TrainError("train.engine=static runs in one process; use train.engine=dygraph with the "
                         "distributed launcher")
    if t_cfg["batch_size"] % world:
        raise TrainError(f"train.batch_size {t_cfg['batch_size']} is not divisible by {world} ranks")
    profile = Profile.from_config(cfg)
    pool = None
    if t_cfg["sample_from"] == "candidates":
        if not candidates:
            raise TrainError("train.sample_from=candidates needs a candidate file (--candidates or $TRACK1_CANDIDATES)")
        from ..candidates import load_candidates
        pool = [profile.space.canonical(c) for _, c in load_candidates(candidates, profile.space)]
    sampler = ArchSampler(profile.space, pool)
    teacher = make_teacher(cfg, profile, pool) if t_cfg["strategy"] == "rdnas" else None
    strategy = STRATEGIES.get(t_cfg["strategy"])(cfg, sampler, teacher)
    gt = _load_gt(cfg, profile)

    splits = load_splits(cfg)
    train_split = training_subset(splits["train"], t_cfg["train_images"], cfg["data"]["split_seed"])
    bs = t_cfg["batch_size"]
    steps_per_epoch = len(train_split) // bs
    if steps_per_epoch == 0:
        raise TrainError(f"train.batch_size {bs} exceeds the {len(train_split)} training images")
    total = max(1, round(t_cfg["epochs"] * steps_per_epoch))
    warmup = round(t_cfg["warmup_epochs"] * steps_per_epoch)
    # `total` stays the configured length (lr schedule, "finished"); --max-steps only moves
    # `stop`, so a truncated run followed by --resume trains exactly as one uninterrupted run.
    stop = total if max_steps is None else min(total, max_steps)
    lr_fn = lambda s: lr_at(s, total, warmup, t_cfg["lr"], "cosine")  # noqa: E731

    paddle.seed(cfg["seed"])
    net = build_supernet(cfg, profile)
    if t_cfg["init"]:
        _init_from(net, t_cfg["init"])
    state0 = {k: v.numpy() for k, v in net.state_dict().items()}
    if t_cfg["engine"] == "static":
        engine = StaticEngine(lambda: build_supernet(cfg, profile), cfg, lr_fn, state0, net.open_stages)
    else:
        engine = DygraphEngine(net, cfg, lr_fn)

    out = out_dir(cfg)
    ckpt = out / "checkpoint"
    rng = np.random.default_rng(cfg["seed"])
    step, history = 0, []
    meta_base = {"config_hash": config_hash(cfg), "code_version": code_version(),
                 "inputs": _input_hashes(pool, t_cfg["init"])}
    if resume:
        found = checkpoint.load(ckpt)
        if found is not None:
            arrays, meta = found
            if meta["config_hash"] != meta_base["config_hash"]:
                raise TrainError(f"checkpoint '{ckpt}.npz' was written with another config "
                                 f"({meta['config_hash']} vs {meta_base['config_hash']}); use another train.out_dir, "
                                 f"or delete '{out}' to train afresh")
            for what, h in meta.get("inputs", {}).items():
                if h != meta_base["inputs"].get(what):
                    raise TrainError(f"checkpoint '{ckpt}.npz' was trained with another {_INPUT_NAMES[what]}; "
                                     f"use another train.out_dir, or delete '{out}' to train afresh")
            if meta.get("finished") and (out / "supernet.npz").is_file():
                log(f"{ckpt}.npz: this run finished at step {meta['step']}; {out / 'supernet.npz'} is its supernet")
                return {"steps": meta["step"], "history": meta["history"], "out_dir": str(out)}
            net.open_branches(meta.get("open_stages", []))
            engine.load_state(arrays)
            # The static engine keeps its weights in its own scope: `net` (written out as the
            # supernet at the end) must hold them too, even if no step follows.
            net.set_state_dict({k: v for k, v in arrays.items() if "@" not in k})
            rng.bit_generator.state = meta["rng"]
            step, history = meta["step"], meta["history"]
            log(f"resumed from {ckpt}.npz at step {step} (epoch {step / steps_per_epoch:.2f})")
    writer = _writer(out) if rank == 0 else None
    aug = dict(augment=t_cfg["augment"], pad=cfg["data"]["pad_crop"], flip=cfg["data"]["flip"])
    t0 = time.time()
    from tqdm import tqdm
    bar = tqdm(total=stop, initial=step, desc=f"{t_cfg['strategy']}/{t_cfg['engine']}", unit="step",
               disable=rank != 0, mininterval=5)
    while step < stop:
        epoch = step // steps_per_epoch
        sums, n = {}, 0
        for x, y in train_split.batches(bs, rng, drop_last=True, part=(rank, world), **aug):
            # A phase may start mid-epoch: its branches open at its first step.
            _open_phase_branches(strategy, net, engine, step / steps_per_epoch)
            plan = strategy.plan(step / steps_per_epoch, rng)
            parts = engine.step(plan, x, y)
            if not math.isfinite(parts["loss"]):
                raise FloatingPointError(f"loss became {parts['loss']} at step {step}")
            step += 1
            n += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if writer and step % t_cfg["log_every"] == 0:
                for k, v in parts.items():
                    writer.add_scalar(f"train/{k}", v, step)
                writer.add_scalar("train/lr", lr_fn(step - 1), step)
                writer.add_scalar("train/rank_weight", plan.rank_weight, step)
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.3f}", refresh=False)
            if step >= stop or step % steps_per_epoch == 0:
                break
        # ---- end of an epoch (or of a truncated run): evaluate, log, checkpoint
        done_epochs = step / steps_per_epoch
        summary = {"epoch": round(done_epochs, 3), "step": step, "time_s": round(time.time() - t0, 1),
                   **{k: v / max(n, 1) for k, v in sums.items()}}
        if world > 1:
            engine.sync_buffers()
        state = engine.state()
        net.set_state_dict({k: v for k, v in state.items() if "@" not in k})
        # Resumable checkpoints at epoch boundaries (the generator state then decides the rest
        # of the run) and at the run's end; none after a mid-epoch --max-steps stop. Written
        # before the evaluation, so a kill during it loses no training, and again after it.
        resumable = step % steps_per_epoch == 0 or step >= total

        def save_checkpoint():
            checkpoint.save(ckpt, state, {**meta_base, "step": step, "history": history,
                                          "rng": rng.bit_generator.state, "open_stages": sorted(net.open_stages),
                                          "finished": step >= total})
        if rank == 0 and resumable:
            save_checkpoint()
        if rank == 0:
            summary.update(_evaluate(cfg, net, sampler, splits, train_split))
            rank_due = (t_cfg["rank_every"] and (epoch + 1) % t_cfg["rank_every"] == 0) or step >= stop
            if gt and rank_due and t_cfg["eval_images"] > 0:
                from .evaluate import rank_against_gt
                summary.update(rank_against_gt(cfg, net, gt, splits, train_split))
            history.append(summary)
            if writer:
                for k, v in summary.items():
                    if k not in ("epoch", "step") and isinstance(v, (int, float)):
                        writer.add_scalar(f"epoch/{k}", v, step)
            log(_epoch_line(summary))
            if resumable:
                save_checkpoint()
        if world > 1:
            _check_ranks_agree(state)
    bar.close()
    if rank == 0:
        _write_final(cfg, out, net, history)
    return {"steps": step, "history": history, "out_dir": str(out)}


def _check_ranks_agree(state):
    """Every rank must hold the same weights (same sub-networks, averaged gradients)."""
    total = np.float64(sum(float(np.abs(v).sum()) for k, v in state.items() if "@" not in k))
    t = paddle.to_tensor(np.array([total, -total], np.float64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    hi, neg_lo = t.numpy()
    if abs(hi + neg_lo) > 1e-6 * max(1.0, abs(hi)):
        raise RuntimeError(f"ranks hold different weights (checksums {-neg_lo} .. {hi})")


def _open_phase_branches(strategy, net, engine, epoch_f):
    want = set(strategy.phase(epoch_f).get("open", []))
    if not want - net.open_stages:
        return
    if isinstance(engine, DygraphEngine):
        net.open_branches(sorted(want))          # the engine trains `net` itself
    else:
        state = engine.state()
        net.set_state_dict({k: v for k, v in state.items() if "@" not in k})
        net.open_branches(sorted(want))
        new = {k: v.numpy() for k, v in net.state_dict().items()}
        engine.load_state({**state, **new})


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
    from .checkpoint import load_weights
    try:
        weights = load_weights(path)
    except FileNotFoundError as e:
        raise TrainError(f"config key 'train.init': {e}") from None
    own = net.state_dict()
    for k, v in weights.items():
        if k not in own:
            raise TrainError(f"train.init '{path}': unknown tensor '{k}' (expected the largest code's stand-alone net)")
        if tuple(own[k].shape) != tuple(v.shape):
            raise TrainError(f"train.init '{path}': tensor '{k}' has shape {tuple(v.shape)}, the supernet "
                             f"{tuple(own[k].shape)}")
    net.set_state_dict(weights)


def _load_gt(cfg, profile):
    path = cfg["train"]["gt"]
    if not path:
        return None
    p = Path(path)
    p = p if p.is_absolute() else REPO / p
    if not p.is_file():
        raise TrainError(f"config key 'train.gt': no GT file at '{p}' (set train.gt=null to train without one)")
    from ..candidates import read_official
    return read_official(p, profile.space, need_acc=True, what="GT file")


def _evaluate(cfg, net, sampler, splits, train_split) -> dict:
    t = cfg["train"]
    if t["eval_images"] <= 0:
        return {}
    out = {}
    for name, code in (("largest", sampler.largest()), ("smallest", sampler.smallest())):
        out[f"val_acc_{name}"] = evaluate_subnet(net, code, splits["val"], train_split, t["eval_images"],
                                                 t["bn_recalib_images"], seed=cfg["seed"])["acc"]
    return out


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


def _write_final(cfg, out: Path, net, history):
    """The final supernet, with what scoring needs to rebuild it: the config it was made with."""
    from ..io_utils import atomic_write_text
    checkpoint.save(out / "supernet", {k: v.numpy() for k, v in net.state_dict().items()},
                    {"config": {k: v for k, v in cfg.items() if not k.startswith("_")},
                     "open_stages": sorted(net.open_stages), "history": history, "code_version": code_version()})
    atomic_write_text(out / "history.json", json.dumps(history, indent=1) + "\n")
