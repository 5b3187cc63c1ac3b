"""Candidate and submission files in the official format: {"archK": {"arch": CODE, "acc": X}}.

Key order is kept (a submission must list the keys in the candidate file's order), every
entry is validated, and every error is one line naming the file and the first offending key.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

from .config import REPO
from .errors import UserError, quote
from .io_utils import read_json_file
from .space import OFFICIAL_LEN, RULES_LEN, CodeError, SearchSpace

ENV = "TRACK1_CANDIDATES"
OFFICIAL_NAME = "CVPR_2022_NAS_Track1_test.json"
# Looked in after flag, config and environment: a gitignored copy inside the checkout, then
# the copy a workplace keeps beside the checkout (../shared/data/, as on this project's machines).
LOCAL_COPIES = (REPO / "data" / OFFICIAL_NAME, REPO.parent / "shared" / "data" / OFFICIAL_NAME)


class CandidateError(UserError, ValueError):
    """A malformed candidate, submission or ground-truth file; one line, names the key."""


def resolve_path(flag=None, cfg=None) -> Path | None:
    """The candidate file: --candidates, else config `candidates`, else $TRACK1_CANDIDATES,
    else data/CVPR_2022_NAS_Track1_test.json in the checkout, else the same name in
    ../shared/data/ beside it; None if none is given or found. This is the only place that
    looks for it."""
    for p in (flag, (cfg or {}).get("candidates"), os.environ.get(ENV)):
        if p:
            return Path(p)
    return next((p for p in LOCAL_COPIES if p.is_file()), None)


# What every profile agrees on, checked when no profile is given (a submission or GT read
# by check.py): 51 or 52 digits, the 52-char form starting with image-size code 1 (each
# profile trains and scores at its own resolution, so no other code occurs).
IMAGE_CODES = (1,)


def check_form(code: str):
    """Refuse a code that no profile accepts (a stray newline, an image-size code 2)."""
    if len(code) not in (OFFICIAL_LEN, RULES_LEN):
        raise CodeError(f"arch code {quote(code)}: length {len(code)}, expected {OFFICIAL_LEN} "
                        f"(official form) or {RULES_LEN} (rules form)")
    bad = next((p for p, ch in enumerate(code) if ch not in "0123456789"), None)
    if bad is not None:
        raise CodeError(f"arch code {quote(code)}: position {bad}: {code[bad]!r} is not a digit")
    if len(code) == OFFICIAL_LEN and int(code[0]) not in IMAGE_CODES:
        raise CodeError(f"arch code {quote(code)}: position 0: image-size code {code[0]} "
                        f"not in allowed {list(IMAGE_CODES)}")


def read_official(path, space: SearchSpace | None = None, need_acc: bool = False,
                  what: str = "candidate file") -> dict:
    """{key: {"arch": code, "acc": float|None}} in file order, validated.

    `space`: validate every code against the profile; `need_acc`: every entry must carry a
    finite numeric "acc" (submissions and ground truth).
    """
    data = read_json_file(path, what, entries=dict, nonempty=True, error=CandidateError)
    out, seen = {}, {}
    for key, entry in data.items():
        where = f"{what} {quote(path)}: entry {quote(key)}"
        if "arch" not in entry:
            raise CandidateError(f"{where}: missing field 'arch'")
        code = entry["arch"]
        if not isinstance(code, str):
            raise CandidateError(f"{where}: 'arch' must be a string, got {_short(code)}")
        try:
            space.parse(code) if space is not None else check_form(code)
        except CodeError as e:
            raise CandidateError(f"{where}: {e}") from None
        canon = code[-51:]          # the 51-char body identifies a code in either form
        if canon in seen:
            raise CandidateError(f"{where}: duplicate code, already in entry {quote(seen[canon])}")
        seen[canon] = key
        acc = entry.get("acc")
        if need_acc:
            if "acc" not in entry:
                raise CandidateError(f"{where}: missing field 'acc'")
            if not _usable_number(acc):
                raise CandidateError(f"{where}: 'acc' must be a finite number of magnitude at most "
                                     f"{ACC_LIMIT:g}, got {_short(acc)}")
        out[key] = {"arch": code, "acc": acc}
    return out


# Scores are compared, centred and squared by the metrics: beyond this magnitude float64
# arithmetic overflows and every statistic turns into nan.
ACC_LIMIT = 1e100


def _usable_number(x) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(x) and abs(x) <= ACC_LIMIT
    except OverflowError:           # an int too large for a float
        return False


def _short(value, limit: int = 60) -> str:
    """repr() of a user's value, cut short (a 5,000-digit number must not fill the terminal)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Candidate(NamedTuple):
    key: str
    code: str           # canonical: the validated 52-char form, what every library function takes
    arch: str           # as the file wrote it (51 or 52 chars), what the submission writes back


def load_candidates(path, space: SearchSpace) -> list:
    """[Candidate] of a candidate file, in file order, every code validated against `space`."""
    return [Candidate(k, space.canonical(v["arch"]), v["arch"]) for k, v in read_official(path, space).items()]


def submission_dict(candidates, scores) -> dict:
    """The official structure, validated: the candidates' keys and codes (as their file
    wrote them), finite scores."""
    candidates = list(candidates)
    if len(scores) != len(candidates):
        raise CandidateError(f"submission: {len(scores)} scores for {len(candidates)} candidates")
    out = {}
    for c, s in zip(candidates, scores):
        s = float(s)
        if not math.isfinite(s):
            raise CandidateError(f"submission: entry {quote(c.key)} ({quote(c.arch)}) has a non-finite score {s}")
        out[c.key] = {"arch": c.arch, "acc": s}
    return out


def write_submission(path, candidates, scores) -> dict:
    from .io_utils import atomic_write_json
    sub = submission_dict(candidates, scores)
    atomic_write_json(path, sub)
    return sub


def codes_from_items(items, space: SearchSpace) -> list:
    """[(key or None, canonical code)] from command-line items: official-format JSON files
    (their keys kept), text files of one code per line (`#` comments), or codes."""
    from .io_utils import read_text_file
    out = []
    for item in items:
        p = Path(item)
        if p.suffix == ".json":
            out += [(c.key, c.code) for c in load_candidates(p, space)]
        elif p.exists():
            lines = read_text_file(p, "code file").splitlines()
            out += [(None, space.canonical(ln.split()[0])) for ln in lines if ln.strip() and not ln.startswith("#")]
        else:
            out.append((None, space.canonical(item)))
    return out
