"""What defines each result that track1 resumes or caches: one declaration per result.

A result file (a training checkpoint, a ground-truth results file, partial scores, a proxy
cache) records the hash of its identity and is never resumed or reused under another. Each
identity lists the config keys that decide the result ("section" takes a whole section,
"section.key" one key) minus the keys that change only speed, logging or where files go.
Keys added after results existed carry a neutral value: at it they are left out, so files
made before the key existed keep their identity (the tests pin the shipped GT's hash).
"""
from __future__ import annotations

from pathlib import Path

from .config import section_hash

# The held-out images are carved out of the training split by these keys.
SPLIT = ("data.dataset", "data.val_size", "data.split_seed")

RESULTS = {
    # A supernet training run; its strategy adds the sections it declared (train/strategies.py).
    "supernet": {"keys": ("seed", "profile", "data", "train"),
                 "drop": ("data.root", "data.workers", "train.out_dir", "train.threads", "train.rank_every", "train.gt_watch",
                          "train.log_every", "train.gt"),
                 "neutral": {"profile.activation": "relu", "train.reorder": False, "train.distill_teacher": None, "train.amp": "fp32",
                             "train.backward": "joint", "train.accumulate": 1}},
    # A stand-alone run, besides its code and seed. The backend and thread count change float
    # rounding and speed, not the protocol (benchmarks/standalone_speed.py: accuracies within
    # seed noise of each other).
    "standalone": {"keys": ("standalone", "profile") + SPLIT + ("data.pad_crop", "data.flip"),
                   "drop": ("standalone.backend", "standalone.threads"),
                   "neutral": {"profile.activation": "relu", "standalone.average_from": 0.0}},
    # A candidate's score, besides the checkpoint, the candidate list and the scorer's code. The
    # engine (and `device`) change float rounding only (tests: engines agree within 1e-4).
    # `amp` stays: a half-precision forward rounds every activation to 11 (float16) or 8
    # (bfloat16) significant bits, errors far above float32 noise and comparable to the gaps
    # between neighbouring candidates among 45,000, so a submission must not mix amp and
    # float32 chunks (the run adds the amp dtype). `recal_chunk` changes the statistics.
    "scores": {"keys": ("score", "profile") + SPLIT,
               "drop": ("score.jobs", "score.chunk", "score.group", "score.engine", "score.share_prefix",
                        "score.specialise_depth"),
               "neutral": {"profile.activation": "relu", "score.amp": False, "score.recal_chunk": 0}},
    # A zero-cost proxy's score of a code, besides the proxy and its version.
    "proxy": {"keys": ("profile", "proxies"), "drop": ("proxies.cache_dir",),
              "neutral": {"profile.activation": "relu"}},
}


def identity(result: str, cfg, extra_keys=()) -> dict:
    """The nested dict of the config values that define `result` (plus `extra_keys`)."""
    spec = RESULTS[result]
    out = {}
    for key in tuple(spec["keys"]) + tuple(extra_keys):
        section, _, leaf = key.partition(".")
        if not leaf:
            out[section] = _copy(cfg[section])
        else:
            out.setdefault(section, {})[leaf] = _copy(cfg[section][leaf])
    for key in spec.get("drop", ()):
        section, _, leaf = key.partition(".")
        out.get(section, {}).pop(leaf, None)
    for key, neutral in spec.get("neutral", {}).items():
        section, _, leaf = key.partition(".")
        if out.get(section, {}).get(leaf, object()) == neutral:
            out[section].pop(leaf)
    return out


def identity_hash(result: str, cfg, extra_keys=(), **extra) -> str:
    """Short hash of `identity(result, cfg, extra_keys)` and any `extra` values."""
    return section_hash({**identity(result, cfg, extra_keys), **extra})


def _copy(value):
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


def source_hash(*parts: str) -> str:
    """The code a result depends on, as a hash of its files: `parts` are track1 subpackages
    or modules ("scoring", "bn.py"). A fix there must not resume results of the old code;
    other edits (docs, results) do not count, unlike the git commit."""
    import hashlib
    pkg = Path(__file__).resolve().parent
    files = []
    for part in parts:
        p = pkg / part
        files += sorted(p.glob("*.py")) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(pkg).as_posix().encode() + f.read_bytes())
    return h.hexdigest()[:16]
