"""YAML configs: one schema, strict validation, `key.sub=value` overrides, `base:` inheritance.

The schema holds types and ranges only; the values live in configs/*.yaml, where
configs/fashion_mnist.yaml is complete and every other config names a `base`.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path

import yaml

from .errors import UserError, describe, not_a_file, quote
from .profile import Profile

REPO = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO / "configs"


def repo_path(value) -> Path:
    """A path from a config key: relative ones are relative to the checkout, as the shipped
    configs' out_dir, gt and init are, whatever directory a tool runs from."""
    p = Path(value)
    return p if p.is_absolute() else REPO / p
DEFAULT_CONFIG = CONFIG_DIR / "fashion_mnist.yaml"


class ConfigError(UserError, ValueError):
    """A bad config; the message is one line and names the key."""


class Field:
    """Type and range of one leaf. `kind`: int, float, bool, str, or list:<kind> / list:list:<kind>.
    `lo`/`hi` are inclusive bounds, `above` an exclusive lower one; `why` is said with a value
    out of range (what such a value would mean)."""

    def __init__(self, kind, lo=None, hi=None, choices=None, null=False, length=None, items=None,
                 above=None, why=None):
        self.kind, self.lo, self.hi, self.choices = kind, lo, hi, choices
        self.null, self.length = null, length
        self.items = items              # for kind "list:dict": the schema of each mapping
        self.above = above
        self.why = f" ({why})" if why else ""

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
                raise ConfigError(f"config key '{key}': expected a list, got {type(value).__name__} {_short(value)}")
            if top and self.length is not None and len(value) != self.length:
                raise ConfigError(f"config key '{key}': expected {self.length} items, got {len(value)}")
            return [self._check(f"{key}[{i}]", v, kind[5:]) for i, v in enumerate(value)]
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = {"int": int, "float": float, "bool": bool, "str": str}[kind]
        if not isinstance(value, ok) or (kind in ("int", "float") and isinstance(value, bool)):
            raise ConfigError(f"config key '{key}': expected {kind}, got {type(value).__name__} {_short(value)}")
        if kind == "float" and not math.isfinite(value):
            # nan passes every comparison below, and an infinite budget never ends
            raise ConfigError(f"config key '{key}': expected a finite number, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"config key '{key}': {_short(value)} is not one of {list(self.choices)}")
        if self.lo is not None and value < self.lo:
            raise ConfigError(f"config key '{key}': {_short(value)} is below the minimum {self.lo}{self.why}")
        if self.above is not None and value <= self.above:
            raise ConfigError(f"config key '{key}': {_short(value)} must be above {self.above}{self.why}")
        if self.hi is not None and value > self.hi:
            raise ConfigError(f"config key '{key}': {_short(value)} is above the maximum {self.hi}{self.why}")
        return value


def _short(value, limit: int = 60) -> str:
    """repr() of a value from the user, cut short (a 4,000-digit number must not fill the screen)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


I, Fl, B, S = "int", "float", "bool", "str"

# The schema: every key of a config, its type and range (values live in configs/*.yaml).
SCHEMA = {
    "seed": Field(I, 0),
    "profile": {
        "name": Field(S),
        "image_size": Field(I, 8, 1024),
        "in_channels": Field(I, 1, 16),
        "num_classes": Field(I, 2, 100000),
        "stem_kernel": Field(I, 1, 11),
        "stem_stride": Field(I, 1, 4),
        "stem_pool": Field(B),
        "activation": Field(S, choices=("relu", "mish", "swish")),
        "base_channels": Field("list:int", 1, 4096, length=4),
        "divisor": Field(I, 1, 64),
        "strides": Field("list:int", 1, 2, length=4),
        "depth_range": Field("list:list:int", 1, 8, length=4),
        "stem_codes": Field("list:int", 1, 7),
        "stage_codes": Field("list:list:int", 1, 7, length=4),
    },
    "device": Field(S, choices=("auto", "cpu", "gpu")),
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
        "engine": Field(S, choices=("auto", "static", "batched", "dygraph")),
        "amp": Field(B),
        "recal_chunk": Field(I, 0),
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
        # The training strategies (train/strategies.py's registry; a test keeps the two equal).
        "strategy": Field(S, choices=("spos", "sandwich", "progressive", "rdnas")),
        "engine": Field(S, choices=("static", "dygraph")),
        "sample_from": Field(S, choices=("space", "candidates")),
        "epochs": Field(Fl, above=0.0, why="nothing to train"),
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
        "reorder": Field(B),
        "distill_teacher": Field(S, null=True),
        "amp": Field(S, choices=("fp32", "fp16", "bf16")),
        "backward": Field(S, choices=("joint", "per_subnet")),
        "accumulate": Field(I, 1, 64),
        "out_dir": Field(S),
        "eval_images": Field(I, 0),
        "bn_recalib_images": Field(I, 0),
        "rank_every": Field(I, 0),
        "gt": Field(S, null=True),
        "gt_watch": Field(I, 0),
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
    "fewshot": {
        "stage": Field(I, 0, 3),
        "groups": Field("list:list:int", 1, 8),
        "epochs": Field(Fl, 0.0, above=0.0),
        "calibrate": Field(S, choices=("none", "parent")),
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
        "epochs": Field(Fl, above=0.0, why="nothing to train"),
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
        "backend": Field(S, choices=("auto", "static", "dygraph")),
        "threads": Field(I, 1, 256),
    },
}


class Node(dict):
    """A dict with attribute access, for `cfg.profile.divisor`."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


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


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML forbids it; PyYAML
    silently keeps the last value, so a typo'd copy of a section would override the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":     # `<<: *base` may repeat keys on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:                                 # unhashable: the base class says so
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {quote(key)}",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _load_yaml(text: str, source: str):
    """YAML -> Python; every way the parser fails as one line starting with `source`, syntax
    errors and duplicate keys with their line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = e.problem or e.context or type(e).__name__
    except yaml.YAMLError as e:
        at, problem = "", str(e).splitlines()[0] if str(e) else type(e).__name__
    except RecursionError:
        at, problem = "", "nested too deeply"
    except ValueError as e:     # int(): a number beyond Python's digit limit
        at, problem = "", f"a value cannot be read: {str(e).split(':')[0]}"
    raise ConfigError(f"{source} not valid YAML{at} ({problem})")


def _read_yaml(path: Path, seen=()) -> dict:
    if path in seen:
        raise ConfigError(f"config {quote(path)}: circular 'base' chain")
    if not path.is_file():
        raise ConfigError(not_a_file("config", path))
    try:
        data = _load_yaml(path.read_bytes().decode("utf-8"), f"config {quote(path)}:") or {}
    except UnicodeDecodeError as e:
        raise ConfigError(f"config {quote(path)}: not UTF-8 text (byte {e.start}; a binary file?)") from None
    except OSError as e:
        raise ConfigError(f"config {quote(path)}: cannot be read ({e.strerror})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {quote(path)}: top level must be a mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"config {quote(path)}: 'base' must be a file name, got {_short(base)}")
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
        raise ConfigError(f"config key '{prefix.rstrip('.')}': expected a mapping, got {_short(tree)}")
    tree = dict(tree)
    for k in tree:
        if k not in schema:
            raise _unknown_key(prefix, k, schema)
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


def _unknown_key(prefix: str, k, schema) -> ConfigError:
    key = f"{prefix}{k}"
    if key in RETIRED:
        return ConfigError(f"config key '{key}': retired, {RETIRED[key]}")
    known = ", ".join(sorted(schema))
    return ConfigError(f"config key {quote(key)}: unknown key (known here: {known})")


def parse_override(text: str):
    """`a.b=value` -> (['a', 'b'], value), the value read as YAML (so 3, 0.1, true, [1, 2] work)."""
    if "=" not in text:
        raise ConfigError(f"override {quote(text)}: expected key=value")
    key, raw = text.split("=", 1)
    value = _load_yaml(raw, f"override {quote(text)}: the value is") if raw.strip() else None
    return key.strip().split("."), value


def _check_override(path: list, value):
    """The key an override sets must exist in the schema, and a section must get a mapping:
    checked per override, so an error names the override at fault (not a later one that
    runs into what it did)."""
    schema = SCHEMA
    for i, part in enumerate(path):
        if not isinstance(schema, dict):
            raise ConfigError(f"config key {quote('.'.join(path[:i]))} is not a section")
        if part not in schema:
            raise _unknown_key("".join(p + "." for p in path[:i]), part, schema)
        schema = schema[part]
    if isinstance(schema, dict) and not isinstance(value, dict):
        raise ConfigError(f"config key {quote('.'.join(path))}: expected a mapping (it is a section), "
                          f"got {_short(value)}")


def apply_overrides(tree: dict, overrides) -> dict:
    tree = copy.deepcopy(tree)
    for text in overrides or ():
        path, value = parse_override(text)
        try:
            _check_override(path, value)
        except ConfigError as e:
            raise ConfigError(f"override {quote(text)}: {e}") from None
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):      # the file's own value is wrong: validation names it
                break
        else:
            node[path[-1]] = value
    return tree


def resolve_config_path(name) -> Path:
    """A path, or a bare name looked up in configs/ (`imagenet` -> configs/imagenet.yaml)."""
    if name is None:
        return DEFAULT_CONFIG
    p = Path(name)
    if p.is_file():
        return p.resolve()
    if p.exists():
        raise ConfigError(f"config {quote(name)} {describe(p)}")
    for cand in (CONFIG_DIR / name, CONFIG_DIR / f"{name}.yaml"):
        if cand.is_file():
            return cand
    raise ConfigError(f"config {quote(name)}: no such file (looked in . and {CONFIG_DIR})")


def load_config(name=None, overrides=()) -> Node:
    path = resolve_config_path(name)
    tree = apply_overrides(_read_yaml(path), overrides)
    cfg = _wrap(_validate(tree, SCHEMA))
    _cross_check(cfg)
    cfg["_path"] = str(path)
    return cfg


def with_overrides(cfg, overrides) -> Node:
    """A validated config with more `key=value` overrides applied (and validated again)."""
    tree = {k: v for k, v in json.loads(json.dumps(cfg)).items() if not k.startswith("_")}
    out = _wrap(_validate(apply_overrides(tree, overrides), SCHEMA))
    _cross_check(out)
    out["_path"] = cfg.get("_path")
    return out


def _cross_check(cfg):
    p = cfg.profile
    for s, r in enumerate(p.depth_range):
        if len(r) != 2 or r[0] > r[1]:
            raise ConfigError(f"config key 'profile.depth_range[{s}]': expected [min, max] with min <= max, got {r}")
    if any(s != 2 for s in p.strides[1:]):
        # Their first blocks then keep the identity shortcut when widths agree and project
        # otherwise: a per-candidate choice the masked and grouped forwards do not model.
        raise ConfigError(f"config key 'profile.strides': stages 2-4 must have stride 2, got {list(p.strides)}")
    try:
        Profile.from_section(p)       # the space's own checks (depth limits, stem/stage agreement)
    except ValueError as e:
        raise ConfigError(f"profile '{p.name}': {e}") from None
    for sec in ("standalone", "train"):
        section = cfg[sec]
        if section.warmup_epochs > section.epochs:
            raise ConfigError(f"config key '{sec}.warmup_epochs': {section.warmup_epochs} exceeds epochs {section.epochs}")
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
