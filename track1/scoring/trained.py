"""A trained supernet as scoring sees it: its weights and its definition, read from the
checkpoint alone (profile, the data split that held out the scored images, weight branches),
and the scoring settings, which come from the config given at scoring time."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DEFAULT_CONFIG, load_config
from ..errors import UserError
from ..models.supernet import SuperNet
from ..profile import Profile
from ..runtime import checkpoint

SPLIT_KEYS = ("dataset", "val_size", "split_seed")


class ScoreError(UserError, ValueError):
    """A scoring run that cannot go on; one line."""


@dataclass
class Trained:
    path: Path               # the .npz
    arrays: dict
    meta: dict
    profile: Profile
    profile_section: dict    # the config section the profile came from
    definition: dict         # branch_groups / branch_stages, {} without branches
    split: dict              # data.dataset / val_size / split_seed of the training run
    open_stages: list
    engine: str              # the training engine (static: BN running statistics never updated)

    def build(self) -> SuperNet:
        """A fresh supernet of this definition (for static programs: no weights set)."""
        net = SuperNet.from_definition(self.profile, self.definition)
        net.open_stages = set(self.open_stages)
        return net

    def network(self) -> SuperNet:
        net = self.build()
        net.set_state_dict(self.arrays)
        return net


def load_trained(ckpt_dir, config=None, overrides=()) -> Trained:
    """The supernet of a training folder (its supernet.npz), or a supernet `.pdparams` in
    any layout of interop.py (the official demo's, the 3rd place's, track1's export); such a
    file holds weights alone, so its profile and split are those of `config`."""
    if Path(ckpt_dir).suffix == ".pdparams":
        return _load_pdparams(Path(ckpt_dir), config, overrides)
    path = Path(ckpt_dir) / "supernet"
    found = checkpoint.load(path)
    if found is None:
        raise ScoreError(f"no trained supernet at '{path}.npz' (run `bash tools/train.sh` first, or pass --checkpoint DIR)")
    arrays, meta = found
    sn = meta.get("supernet") or _definition_of_old_checkpoint(meta)
    profile = Profile.from_section(sn["profile"])
    definition = {k: sn[k] for k in ("branch_groups", "branch_stages") if k in sn}
    engine = meta.get("engine") or meta.get("config", {}).get("train", {}).get("engine", "dygraph")
    trained = Trained(Path(f"{path}.npz"), arrays, meta, profile, dict(sn["profile"]), definition, dict(sn["split"]),
                      list(meta.get("open_stages", [])), engine)
    checkpoint.check_state(arrays, {k: v.shape for k, v in trained.build().state_dict().items()}, trained.path)
    return trained


def _load_pdparams(path: Path, config, overrides) -> Trained:
    from .. import interop
    try:
        state = interop.load_pdparams(path)
    except FileNotFoundError as e:
        raise ScoreError(str(e)) from None
    except interop.LayoutError:
        raise
    except Exception as e:      # paddle.load of a damaged file: any of several exception types
        raise ScoreError(f"--checkpoint '{path}' is not a readable .pdparams file ({type(e).__name__})") from None
    layout = interop.detect_layout(state)
    arrays = {k: np.asarray(v) for k, v in interop.to_track1(state, layout).items()}
    cfg = load_config(config or DEFAULT_CONFIG, overrides)
    split = {k: cfg["data"][k] for k in SPLIT_KEYS}
    # Imported supernets were trained in dygraph: their BN running statistics are real.
    trained = Trained(path, arrays, {"config_source": str(config or DEFAULT_CONFIG), "imported_layout": layout},
                      Profile.from_section(cfg["profile"]), dict(cfg["profile"]), {}, split, [], "dygraph")
    checkpoint.check_state(arrays, {k: v.shape for k, v in trained.build().state_dict().items()}, path)
    return trained


def _definition_of_old_checkpoint(meta) -> dict:
    """Supernets written before checkpoints stored their definition: it is in their config."""
    cfg = meta.get("config") or {}
    try:
        sn = {"profile": cfg["profile"], "split": {k: cfg["data"][k] for k in SPLIT_KEYS}}
        if cfg["train"]["strategy"] == "progressive":
            sn.update(branch_groups=cfg["progressive"]["branch_groups"],
                      branch_stages=cfg["progressive"]["branch_stages"])
    except (KeyError, TypeError):
        raise ScoreError("the supernet's metadata names neither its definition nor its config") from None
    return sn


def scoring_config(trained: Trained, config=None, overrides=()):
    """The config at scoring time: `config` (a name or path), else the one the supernet was
    trained from if it still exists, else the default; with `overrides`. The profile and the
    data split are the checkpoint's, whatever the config says: they define the supernet, and
    the held-out images are carved out of the training split by the split, so another one
    would score images the supernet trained on."""
    source = config or trained.meta.get("config_source")
    if source and not config and not Path(source).is_file():
        source = None
    cfg = load_config(source or DEFAULT_CONFIG, overrides)
    cfg["profile"] = type(cfg["profile"])(trained.profile_section)
    for k in SPLIT_KEYS:
        if k in overrides_keys(overrides, "data") and cfg["data"][k] != trained.split[k]:
            raise ScoreError(f"data.{k}: the supernet was trained with {trained.split[k]!r}; scoring with "
                             f"{cfg['data'][k]!r} would put its training images among the scored ones")
        cfg["data"][k] = trained.split[k]
    # The held-out images are carved from the training data: without a root of its own,
    # scoring reads the one the supernet was trained on (ImageNet has no fallback).
    trained_root = ((trained.meta.get("config") or {}).get("data") or {}).get("root")
    if cfg["data"]["root"] is None and trained_root and Path(trained_root).is_dir():
        cfg["data"]["root"] = trained_root
    # Checked here, before any worker starts or any candidate is read.
    if cfg["score"]["images"] > cfg["data"]["val_size"]:
        raise ScoreError(f"score.images {cfg['score']['images']} exceeds the supernet's {cfg['data']['val_size']} "
                         "held-out images (data.val_size, fixed by its training run): lower score.images")
    return cfg


def overrides_keys(overrides, section: str) -> set:
    return {o.split("=", 1)[0].strip()[len(section) + 1:] for o in overrides if o.strip().startswith(section + ".")}


def check_bn_mode(score, trained: Trained) -> None:
    """`running` BN needs running statistics that describe the supernet; the static training
    engine never updates them (README), so scoring with them would rank on the initial ones."""
    if score["bn"] == "running" and trained.engine == "static":
        raise ScoreError("score.bn=running: this supernet was trained by the static engine, which never "
                         "updates BN running statistics; use score.bn=batch or score.bn=recal")
