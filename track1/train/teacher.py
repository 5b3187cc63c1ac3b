"""The RD-NAS teacher: a zero-cost proxy, or a rank-average of several (`rdnas.teacher:
flops+naswot+zen`), that orders pairs of sub-networks (bigger = better)."""
from __future__ import annotations

import numpy as np

from ..errors import UserError

# Analytic members with no candidate pool are ranked within this many codes drawn from the
# space (seeded by proxies.seed): enough that a percentile moves by 1/4096 at most.
REFERENCE_CODES = 4096


class TeacherError(UserError, ValueError):
    """A teacher that cannot score the sub-networks training will draw; before any step."""


def make_teacher(cfg, profile, pool):
    """code -> teacher score. One proxy: its score. Several joined by '+': the mean of their
    percentile ranks within the candidate pool (or, if every member is analytic and there is
    no pool, within a seeded sample of the space): proxies on different scales get one vote
    each, and a code outside the reference set (the sandwich's ends) still has a rank."""
    from ..proxies import PROXIES
    names = cfg["rdnas"]["teacher"].split("+")
    for name in names:
        if name not in PROXIES:
            raise TeacherError(f"config key 'rdnas.teacher': unknown proxy '{name}' (known: "
                               f"{', '.join(PROXIES.names())}; join several with '+')")
    if len(set(names)) != len(names):
        raise TeacherError(f"config key 'rdnas.teacher': '{cfg['rdnas']['teacher']}' names a proxy twice")
    if len(names) == 1:
        return _one(cfg, profile, pool, names[0])
    members = [_one(cfg, profile, pool, name) for name in names]
    reference = pool if pool is not None else profile.space.sample_codes(
        REFERENCE_CODES, seed=cfg["proxies"]["seed"])
    ordered = [np.sort([m(c) for c in reference]) for m in members]

    def rank_average(code):
        ranks = []
        for m, s in zip(members, ordered):
            v = m(code)                                  # ties take the middle rank
            ranks.append((np.searchsorted(s, v, "left") + np.searchsorted(s, v, "right")) / (2 * len(s)))
        return float(np.mean(ranks))
    return rank_average


def _one(cfg, profile, pool, name):
    from ..io_utils import read_jsonl
    from ..proxies import PROXIES, proxy_settings, score
    from ..proxies.batch import cache_path, compute_many
    if not PROXIES.meta(name)["needs_net"]:
        settings = proxy_settings(cfg["proxies"], profile)
        return lambda code: score(name, profile, code, settings["seed"], settings)
    if pool is None:
        raise TeacherError(f"teacher '{name}' needs a network: set train.sample_from=candidates so the "
                           "teacher comes from the proxy cache of the candidate pool")
    path = cache_path(cfg, name)
    cached = {r["arch"]: r["score"] for r in read_jsonl(path)} if path.is_file() else {}
    missing = [c for c in pool if c not in cached]
    if missing:
        raise TeacherError(f"teacher cache '{path}' lacks {len(missing)} of the {len(pool)} pool codes: run "
                           f"`python tools/proxies.py --proxy {name}` on the same candidates first")
    if cfg["rdnas"]["pairs"] == "all":
        # The sandwich's largest and smallest nets are ranked too, and are rarely candidates:
        # two scores, computed here (and cached).
        cached.update(compute_many(cfg, profile, name, [profile.space.max_code(), profile.space.min_code()],
                                   jobs=1, progress=False))

    def teacher(code):
        if code not in cached:
            raise TeacherError(f"teacher '{name}': no cached score for sub-network {code} (not in the candidate pool)")
        return cached[code]
    return teacher
