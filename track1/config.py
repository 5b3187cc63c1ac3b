"""YAML configs: one schema, strict validation, `key.sub=value` overrides, `base:` inheritance.

The schema holds types and ranges only; the values live in configs/*.yaml, where
configs/fashion_mnist.yaml is complete and every other config names a `base`.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path

import yaml

from .errors import UserError

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "fashion_mnist.yaml"


class ConfigError(UserError, ValueError):
    """A bad config; the message is one line and names the key."""


class Field:
    """Type and range of one leaf. `kind`: int, float, bool, str, or list:<kind> / list:list:<kind>."""

    def __init__(self, kind, lo=None, hi=None, choices=None, null=False, length=None, items=None):
        self.kind, self.lo, self.hi, self.choices = kind, lo, hi, choices
        self.null, self.length = null, length
        self.items = items              # for kind "list:dict": the schema of each mapping

    def check(self, key, value):
        if value is None:
            if self.null:
                return None
            raise ConfigError(f"config key '{key}': must not be null")
        return self._check(key, value, self.kind, top=True)

    def _check(self, key, value, kind, top=False):
        if kind == "dict":
            return _validate(value, self.items, key + ".")
        if kind.startswith("list:"):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"config key '{key}': expected a list, got {type(value).__name__} {value!r}")
            if top and self.length is not None and len(value) != self.length:
                raise ConfigError(f"config key '{key}': expected {self.length} items, got {len(value)}")
            return [self._check(f"{key}[{i}]", v, kind[5:]) for i, v in enumerate(value)]
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = {"int": int, "float": float, "bool": bool, "str": str}[kind]
        if not isinstance(value, ok) or (kind in ("int", "float") and isinstance(value, bool)):
            raise ConfigError(f"config key '{key}': expected {kind}, got {type(value).__name__} {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"config key '{key}': {value!r} is not one of {list(self.choices)}")
        if self.lo is not None and value < self.lo:
            raise ConfigError(f"config key '{key}': {value!r} is below the minimum {self.lo}")
        if self.hi is not None and value > self.hi:
            raise ConfigError(f"config key '{key}': {value!r} is above the maximum {self.hi}")
        return value


def _schema():
    I, Fl, B, S = "int", "float", "bool", "str"
    return {
        "seed": Field(I, 0),
        "profile": {
            "name": Field(S),
            "image_size": Field(I, 8, 1024),
            "in_channels": Field(I, 1, 16),
            "num_classes": Field(I, 2, 100000),
            "stem_kernel": Field(I, 1, 11),
            "stem_stride": Field(I, 1, 4),
            "stem_pool": Field(B),
            "base_channels": Field("list:int", 1, 4096, length=4),
            "divisor": Field(I, 1, 64),
            "strides": Field("list:int", 1, 2, length=4),
            "depth_range": Field("list:list:int", 1, 8, length=4),
            "stem_codes": Field("list:int", 1, 7),
            "stage_codes": Field("list:list:int", 1, 7, length=4),
        },
        "data": {
            "dataset": Field(S, choices=("fashion_mnist", "imagenet")),
            "root": Field(S, null=True),
            "val_size": Field(I, 0),
            "split_seed": Field(I, 0),
            "pad_crop": Field(I, 0, 64),
            "flip": Field(B),
            "workers": Field(I, 0, 64),
        },
        "candidates": Field(S, null=True),
        "score": {
            "images": Field(I, 1),
            "bn": Field(S, choices=("running", "recal", "batch")),
            "recal_images": Field(I, 1),
            "metric": Field(S, choices=("acc", "neg_loss", "prob")),
            "engine": Field(S, choices=("static", "dygraph")),
            "group": Field(I, 1, 1024),
            "share_prefix": Field(B),
            "specialise_depth": Field(B),
            "chunk": Field(I, 1),
            "jobs": Field(I, 1, 256),
            "seed": Field(I, 0),
        },
        "proxies": {
            "batch_size": Field(I, 2, 4096),
            "image_size": Field(I, 8, 1024, null=True),
            "seed": Field(I, 0),
            "data": Field(S, choices=("real", "random")),
            "zen_repeats": Field(I, 1, 100),
            "zen_mixup": Field(Fl, 0.0, 1.0),
            "cache_dir": Field(S),
        },
        "train": {
            "strategy": Field(S),
            "engine": Field(S, choices=("static", "dygraph")),
            "sample_from": Field(S, choices=("space", "candidates")),
            "epochs": Field(Fl, 0.0),
            "train_images": Field(I, 1),
            "batch_size": Field(I, 1),
            "lr": Field(Fl, 0.0),
            "momentum": Field(Fl, 0.0, 1.0),
            "nesterov": Field(B),
            "weight_decay": Field(Fl, 0.0),
            "warmup_epochs": Field(Fl, 0.0),
            "label_smoothing": Field(Fl, 0.0, 0.5),
            "augment": Field(B),
            "threads": Field(I, 1, 256),
            "init": Field(S, null=True),
            "out_dir": Field(S),
            "eval_images": Field(I, 0),
            "bn_recalib_images": Field(I, 0),
            "rank_every": Field(I, 0),
            "gt": Field(S, null=True),
            "log_every": Field(I, 1),
        },
        "sandwich": {
            "n_random": Field(I, 0, 16),
            "temperature": Field(Fl, 0.01, 100.0),
        },
        "progressive": {
            "phases": Field("list:dict", items={
                "epochs": Field(Fl, 0.0), "depth": Field(B), "width": Field(B),
                "base": Field(S, choices=("spos", "sandwich")), "open": Field("list:int", 0, 3)}),
            "branch_groups": Field("list:list:int", 1, 7),
            "branch_stages": Field("list:int", 0, 3),
        },
        "rdnas": {
            "teacher": Field(S),
            "margin": Field(Fl, 0.0),
            "lambda_max": Field(Fl, 0.0),
            "ramp_epochs": Field(Fl, 0.0),
            "sampler": Field(S, choices=("none", "hamming", "group")),
            "threshold_quantile": Field(Fl, 0.0, 0.99),
            "near_weight": Field(Fl, 0.0),
            "far_weight": Field(Fl, 0.0),
            "depth_groups": Field("list:list:list:int", 1, 8, length=4),
            "width_groups": Field("list:list:int", 1, 7),
            "pairs": Field(S, choices=("all", "random")),
        },
        "nar": {
            "d_model": Field(I, 8, 1024),
            "heads": Field(I, 1, 32),
            "layers": Field(I, 1, 12),
            "tiers": Field(I, 2, 20),
            "dropout": Field(Fl, 0.0, 0.9),
            "tier_momentum": Field(Fl, 0.0, 1.0),
            "tier_weight": Field(Fl, 0.0),
            "epochs": Field(I, 1),
            "batch_size": Field(I, 2),
            "lr": Field(Fl, 0.0),
            "weight_decay": Field(Fl, 0.0),
            "bins": Field(I, 2, 1000),
            "threshold": Field(Fl, 0.0, 1.0),
            "proposals": Field(I, 1),
            "seed": Field(I, 0),
            "out": Field(S),
        },
        "standalone": {
            "train_images": Field(I, 1),
            "epochs": Field(Fl, 0.0),
            "batch_size": Field(I, 1),
            "optimizer": Field(S, choices=("momentum",)),    # SGD with (Nesterov) momentum: the trainer has no other
            "lr": Field(Fl, 0.0),
            "momentum": Field(Fl, 0.0, 1.0),
            "nesterov": Field(B),
            "weight_decay": Field(Fl, 0.0),
            "schedule": Field(S, choices=("cosine", "constant")),
            "warmup_epochs": Field(Fl, 0.0),
            "label_smoothing": Field(Fl, 0.0, 0.5),
            "zero_init_last_bn": Field(B),
            "augment": Field(B),
            "average_from": Field(Fl, 0.0, 0.95),
            "bn_recalib_images": Field(I, 0),
            "eval_images": Field(I, 1),
            "eval_batch_size": Field(I, 1),
            "backend": Field(S, choices=("static", "dygraph")),
            "threads": Field(I, 1, 256),
        },
    }


SCHEMA = _schema()


class Node(dict):
    """A dict with attribute access, for `cfg.profile.divisor`."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self):
        return json.loads(json.dumps(self))


def _wrap(d):
    if isinstance(d, dict):
        return Node({k: _wrap(v) for k, v in d.items()})
    return d


def _merge(base, top):
    out = copy.deepcopy(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path: Path, seen=()) -> dict:
    if path in seen:
        raise ConfigError(f"config '{path}': circular 'base' chain")
    if not path.is_file():
        raise ConfigError(f"config '{path}': no such file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"config '{path}': not valid YAML ({first})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config '{path}': top level must be a mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = (path.parent / base).resolve()
    return _merge(_read_yaml(base_path, seen + (path,)), data)


# Keys taken out of the schema. A user config that still names one gets a pointer to its
# successor; a checkpoint's stored config just loses it (drop_retired), so older supernets
# stay scoreable.
RETIRED = {
    "rdnas.threshold": "replaced by rdnas.threshold_quantile (pairs are kept above a quantile of the "
                       "distance between two random sub-networks; an absolute distance never filtered "
                       "anything in this space)",
}


def drop_retired(tree: dict) -> dict:
    tree = copy.deepcopy(tree)
    for key in RETIRED:
        *path, last = key.split(".")
        node = tree
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return tree


def _validate(tree, schema, prefix=""):
    if not isinstance(tree, dict):
        raise ConfigError(f"config key '{prefix.rstrip('.')}': expected a mapping, got {tree!r}")
    tree = dict(tree)
    for k in tree:
        if k not in schema:
            if prefix + k in RETIRED:
                raise ConfigError(f"config key '{prefix}{k}': retired, {RETIRED[prefix + k]}")
            known = ", ".join(sorted(schema))
            raise ConfigError(f"config key '{prefix}{k}': unknown key (known here: {known})")
    out = {}
    for k, spec in schema.items():
        key = prefix + k
        if k not in tree:
            raise ConfigError(f"config key '{key}': missing")
        if isinstance(spec, dict):
            out[k] = _validate(tree[k], spec, key + ".")
        else:
            out[k] = spec.check(key, tree[k])
    return out


def parse_override(text: str):
    """`a.b=value` -> (['a', 'b'], value), the value read as YAML (so 3, 0.1, true, [1, 2] work)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override '{text}': value is not valid YAML") from None
    return key.strip().split("."), value


def apply_overrides(tree: dict, overrides) -> dict:
    tree = copy.deepcopy(tree)
    for text in overrides or ():
        path, value = parse_override(text)
        node = tree
        for i, part in enumerate(path[:-1]):
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override '{text}': config key '{'.'.join(path[:i + 1])}' is not a section")
            node = node[part]
        node[path[-1]] = value
    return tree


def resolve_config_path(name) -> Path:
    """A path, or a bare name looked up in configs/ (`imagenet` -> configs/imagenet.yaml)."""
    if name is None:
        return DEFAULT_CONFIG
    p = Path(name)
    if p.is_file():
        return p.resolve()
    for cand in (CONFIG_DIR / name, CONFIG_DIR / f"{name}.yaml"):
        if cand.is_file():
            return cand
    raise ConfigError(f"config '{name}': no such file (looked in . and {CONFIG_DIR})")


def load_config(name=None, overrides=()) -> Node:
    path = resolve_config_path(name)
    tree = apply_overrides(_read_yaml(path), overrides)
    cfg = _wrap(_validate(tree, SCHEMA))
    _cross_check(cfg)
    cfg["_path"] = str(path)
    return cfg


def _cross_check(cfg):
    p = cfg.profile
    for s, r in enumerate(p.depth_range):
        if len(r) != 2 or r[0] > r[1]:
            raise ConfigError(f"config key 'profile.depth_range[{s}]': expected [min, max] with min <= max, got {r}")
    if any(s != 2 for s in p.strides[1:]):
        # Their first blocks then keep the identity shortcut when widths agree and project
        # otherwise: a per-candidate choice the masked and grouped forwards do not model.
        raise ConfigError(f"config key 'profile.strides': stages 2-4 must have stride 2, got {list(p.strides)}")
    from .profile import Profile
    Profile.from_config(cfg)          # the space's own checks (depth limits, stem/stage agreement)
    for sec in ("standalone", "train"):
        st = cfg[sec]
        if st.warmup_epochs > st.epochs:
            raise ConfigError(f"config key '{sec}.warmup_epochs': {st.warmup_epochs} exceeds epochs {st.epochs}")
    from .train.strategies import STRATEGIES
    if cfg.train.strategy not in STRATEGIES:
        raise ConfigError(f"config key 'train.strategy': unknown strategy '{cfg.train.strategy}' "
                          f"(known: {', '.join(STRATEGIES.names())})")
    pr = cfg.progressive
    if not pr.phases:
        raise ConfigError("config key 'progressive.phases': needs at least one phase")
    if cfg.train.strategy == "progressive":
        start = 0.0
        for i, ph in enumerate(pr.phases):
            if start >= cfg.train.epochs:
                raise ConfigError(f"config key 'progressive.phases[{i}]': starts at epoch {start:g}, "
                                  f"at or after train.epochs {cfg.train.epochs:g} (it would never run)")
            start += ph["epochs"]
    for i, ph in enumerate(pr.phases):
        bad = [s for s in ph["open"] if s not in pr.branch_stages]
        if bad:
            raise ConfigError(f"config key 'progressive.phases[{i}].open': stage {bad[0]} is not in "
                              f"progressive.branch_stages {pr.branch_stages}")
    if not pr.branch_groups or sorted(c for g in pr.branch_groups for c in g) != sorted(
            set(c for g in pr.branch_groups for c in g)):
        raise ConfigError("config key 'progressive.branch_groups': groups must be non-empty and disjoint")


def section_hash(section) -> str:
    """A short stable hash of a config section (protocol identity for result files)."""
    blob = json.dumps(section, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def env_path(value, env: str):
    """A path from the config, else from the environment variable `env`, else None."""
    return value if value else (os.environ.get(env) or None)
