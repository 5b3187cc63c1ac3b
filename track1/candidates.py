"""Candidate and submission files in the official format: {"archK": {"arch": CODE, "acc": X}}.

Key order is kept (a submission must list the keys in the candidate file's order), every
entry is validated, and every error is one line naming the file and the first offending key.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .config import REPO
from .space import CodeError, SearchSpace

ENV = "TRACK1_CANDIDATES"
OFFICIAL_NAME = "CVPR_2022_NAS_Track1_test.json"
# Looked in after flag, config and environment: a gitignored copy inside the checkout.
LOCAL_COPY = REPO / "data" / OFFICIAL_NAME


class CandidateError(ValueError):
    """A malformed candidate, submission or ground-truth file; one line, names the key."""


def resolve_path(flag=None, cfg=None) -> Path | None:
    """The candidate file: --candidates, else config `candidates`, else $TRACK1_CANDIDATES,
    else data/CVPR_2022_NAS_Track1_test.json in the checkout; None if none is given/found."""
    for p in (flag, (cfg or {}).get("candidates"), os.environ.get(ENV)):
        if p:
            return Path(p)
    return LOCAL_COPY if LOCAL_COPY.is_file() else None


def _no_duplicate_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise CandidateError(f"duplicate key '{k}'")
        out[k] = v
    return out


def read_official(path, space: SearchSpace | None = None, need_acc: bool = False,
                  what: str = "candidate file") -> dict:
    """{key: {"arch": code, "acc": float|None}} in file order, validated.

    `space`: validate every code against the profile; `need_acc`: every entry must carry a
    finite numeric "acc" (submissions and ground truth).
    """
    path = Path(path)
    if not path.is_file():
        raise CandidateError(f"{what} '{path}': no such file")
    try:
        data = json.loads(path.read_text(), object_pairs_hook=_no_duplicate_keys)
    except CandidateError as e:
        raise CandidateError(f"{what} '{path}': {e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CandidateError(f"{what} '{path}': malformed JSON ({e})") from None
    if not isinstance(data, dict) or not data:
        raise CandidateError(f"{what} '{path}': expected a non-empty JSON object of entries")
    out, seen = {}, {}
    for key, entry in data.items():
        where = f"{what} '{path}': entry '{key}'"
        if not isinstance(entry, dict):
            raise CandidateError(f"{where}: expected an object with 'arch', got {type(entry).__name__}")
        if "arch" not in entry:
            raise CandidateError(f"{where}: missing field 'arch'")
        code = entry["arch"]
        if not isinstance(code, str):
            raise CandidateError(f"{where}: 'arch' must be a string, got {code!r}")
        if space is not None:
            try:
                space.parse(code)
            except CodeError as e:
                raise CandidateError(f"{where}: {e}") from None
        canon = code[-51:]          # the 51-char body identifies a code in either form
        if canon in seen:
            raise CandidateError(f"{where}: duplicate code, already in entry '{seen[canon]}'")
        seen[canon] = key
        acc = entry.get("acc")
        if need_acc:
            if "acc" not in entry:
                raise CandidateError(f"{where}: missing field 'acc'")
            if isinstance(acc, bool) or not isinstance(acc, (int, float)) or not math.isfinite(acc):
                raise CandidateError(f"{where}: 'acc' must be a finite number, got {acc!r}")
        out[key] = {"arch": code, "acc": acc}
    return out


def load_candidates(path, space: SearchSpace | None = None) -> list:
    """[(key, code)] of a candidate file, in file order."""
    return [(k, v["arch"]) for k, v in read_official(path, space).items()]


def submission_dict(keys_codes, scores) -> dict:
    """The official structure, validated: same keys, same codes, finite scores."""
    keys_codes = list(keys_codes)
    if len(scores) != len(keys_codes):
        raise CandidateError(f"submission: {len(scores)} scores for {len(keys_codes)} candidates")
    out = {}
    for (key, code), s in zip(keys_codes, scores):
        s = float(s)
        if not math.isfinite(s):
            raise CandidateError(f"submission: entry '{key}' ({code}) has a non-finite score {s}")
        out[key] = {"arch": code, "acc": s}
    return out


def write_submission(path, keys_codes, scores) -> dict:
    from .io_utils import atomic_write_json
    sub = submission_dict(keys_codes, scores)
    atomic_write_json(path, sub)
    return sub
