"""The RD-NAS teacher: a zero-cost proxy that orders pairs of sub-networks (bigger = better)."""
from __future__ import annotations

from ..errors import UserError


class TeacherError(UserError, ValueError):
    """A teacher that cannot score the sub-networks training will draw; before any step."""


def make_teacher(cfg, profile, pool):
    """code -> teacher score: analytic proxies on the fly; the others from the proxy cache,
    which must already hold every code of the candidate pool (`train.sample_from=candidates`)."""
    from ..io_utils import read_jsonl
    from ..proxies import PROXIES, proxy_settings, score
    from ..proxies.batch import cache_path, compute_many
    name = cfg["rdnas"]["teacher"]
    if name not in PROXIES:
        raise TeacherError(f"config key 'rdnas.teacher': unknown proxy '{name}' (known: {', '.join(PROXIES.names())})")
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
