"""The RD-NAS teacher: a zero-cost proxy, or a rank-average of several (`rdnas.teacher:
flops+naswot+zen`), that orders pairs of sub-networks (bigger = better)."""
from __future__ import annotations

import contextlib

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
        return _one(cfg, profile, pool, names[0], alone=True)
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
    return Teacher(rank_average)


def _one(cfg, profile, pool, name, alone=False):
    from ..io_utils import read_jsonl
    from ..proxies import PROXIES, proxy_settings, score
    from ..proxies.batch import cache_path, compute_many
    if not PROXIES.meta(name)["needs_net"]:
        settings = proxy_settings(cfg["proxies"], profile)
        return Teacher(lambda code: score(name, profile, code, settings["seed"], settings))
    if pool is None:
        if alone:
            return LazyProxyTeacher(cfg, profile, name)
        raise TeacherError(f"teacher '{cfg['rdnas']['teacher']}': a rank-average member that needs a network "
                           f"('{name}') is ranked within the candidate pool: set train.sample_from=candidates "
                           "(or use it alone: it is then scored as training draws the sub-networks)")
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
    return Teacher(teacher)


class Teacher:
    """code -> score, with the two hooks training calls on every teacher: `prefetch` (a step's
    sub-networks, before they are asked for one by one) and a context held for the whole run.
    An analytic or precomputed teacher needs neither; `LazyProxyTeacher` needs both."""

    def __init__(self, score):
        self._score = score

    def __call__(self, code):
        return self._score(code)

    def prefetch(self, codes):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# Proxy workers of a lazy teacher: a step has two random sub-networks to score.
WORKERS = 2


class LazyProxyTeacher(Teacher):
    """A network proxy as the teacher of a run that samples the whole space (no pool to
    precompute): each sub-network is scored when training first draws it (about 2 per step),
    read from the proxy cache if it is there, and appended to it. The scores come from
    1-thread worker processes, as in `tools/proxies.py`'s batch runs: the same numbers, and the
    proxy's own seeding (it reseeds Paddle for every network) never touches the training
    process's generators, so a resumed run draws exactly what an uninterrupted one does.
    Held as a context by the training loop: its workers end with it."""

    def __init__(self, cfg, profile, name):
        from ..io_utils import read_jsonl
        from ..proxies.batch import cache_path
        self.cfg, self.profile, self.name = cfg, profile, name
        self.path = cache_path(cfg, name)
        self.cached = ({r["arch"]: r["score"] for r in read_jsonl(self.path, repair=True)}
                       if self.path.is_file() else {})
        self._stack, self._pool = None, None

    def __call__(self, code):
        if code not in self.cached:
            self.prefetch([code])
        return self.cached[code]

    def prefetch(self, codes):
        """Score the codes not yet cached, side by side (a step's random sub-networks: training
        waits for them, so the workers have the cores)."""
        from ..io_utils import FileLock
        from ..proxies.batch import net_workers, score_task, store_scores
        todo = [c for c in dict.fromkeys(codes) if c not in self.cached]
        if not todo:
            return
        if self._pool is None:
            self._stack = contextlib.ExitStack()
            self._pool = self._stack.enter_context(net_workers(self.cfg, self.profile, WORKERS))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(self.path):
            store_scores(self._pool.imap(score_task, [(self.name, c) for c in todo]), self.path, self.cached,
                         self.name, len(todo), progress=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # An error in training reaches the pool too: its worker is killed, not waited for.
        stack, self._stack, self._pool = self._stack, None, None
        return stack.__exit__(*exc) if stack is not None else False

