import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from track1.candidates import read_official
from track1.config import load_config
from track1.data import load_splits
from track1.proxies import PROXIES, ProxyError, proxy_settings, score
from track1.proxies.batch import cache_path, compute_many

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["proxies.batch_size=16"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = load_config(None, SMALL + [f"proxies.cache_dir={tmp_path_factory.mktemp('cache')}"])
    from track1.profile import Profile
    prof = Profile.from_section(cfg.profile)
    data = load_splits(cfg.data, cfg.profile)["train"].arrays(limit=512)
    return cfg, prof, proxy_settings(cfg.proxies, prof), data


@pytest.mark.parametrize("name", PROXIES.names())
def test_every_proxy_finite_deterministic_and_seed_dependent(setup, name):
    cfg, prof, st, data = setup
    code = prof.space.sample_codes(1, seed=4)[0]
    a = score(name, prof, code, 0, st, data)
    assert math.isfinite(a)
    assert score(name, prof, code, 0, st, data) == a
    if PROXIES.meta(name)["needs_net"]:
        assert score(name, prof, code, 1, st, data) != a


@pytest.mark.parametrize("name", PROXIES.names())
def test_every_proxy_prefers_the_largest_net_over_the_smallest(setup, name):
    cfg, prof, st, data = setup
    big = score(name, prof, prof.space.max_code(), 0, st, data)
    small = score(name, prof, prof.space.min_code(), 0, st, data)
    if name in ("flops", "params"):
        assert big > 3 * small
    elif name not in ("jacob_cov",):      # jacob_cov does not order by size
        assert big > small


@pytest.mark.parametrize("name", ["synflow", "zen", "naswot", "snip"])
def test_imagenet_profile_at_small_resolution(name):
    from track1.profile import Profile
    cfg = load_config("imagenet", ["proxies.batch_size=4", "proxies.image_size=32"])
    prof = Profile.from_section(cfg.profile)
    v = score(name, prof, prof.space.min_code(), 0, proxy_settings(cfg.proxies, prof), None)
    assert math.isfinite(v)


def test_synflow_survives_float32_overflow(setup):
    cfg, prof, st, data = setup
    raw = score("synflow", prof, prof.space.max_code(), 0, st, data)
    assert raw > float(np.finfo(np.float32).max)      # the deepest net overflows float32


def test_cache_hit_returns_same_values(setup):
    cfg, prof, st, data = setup
    codes = prof.space.sample_codes(4, seed=8)
    first = compute_many(cfg, prof, "naswot", codes, jobs=1, progress=False)
    path = cache_path(cfg, "naswot")
    assert path.is_file() and len(path.read_text().splitlines()) == 4
    second = compute_many(cfg, prof, "naswot", codes, jobs=1, progress=False)
    assert first == second
    assert len(path.read_text().splitlines()) == 4            # nothing recomputed
    assert cache_path(load_config(None, SMALL + ["proxies.seed=5"]), "naswot") != path


def test_non_finite_score_is_a_named_error(setup, monkeypatch):
    cfg, prof, st, data = setup
    monkeypatch.setitem(PROXIES._items, "broken", lambda ctx: float("nan"))
    monkeypatch.setitem(PROXIES._meta, "broken", {"sign": 1, "needs_net": False})
    code = prof.space.min_code()
    with pytest.raises(ProxyError, match=f"proxy 'broken' gave nan for arch {code}"):
        score("broken", prof, code, 0, st, data)


def test_unknown_proxy_lists_known():
    with pytest.raises(KeyError, match="known: fisher, flops"):
        PROXIES.get("nope")


def test_cli_zero_shot_submission_validates(tmp_path, setup):
    cfg, prof, st, data = setup
    codes = prof.space.sample_codes(5, seed=2)
    cand = tmp_path / "cand.json"
    cand.write_text(json.dumps({f"arch{i}": {"acc": 0.0, "arch": c} for i, c in enumerate(codes, 1)}))
    out = tmp_path / "sub.json"
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "proxies.py"), "--proxy", "params",
                        "--candidates", str(cand), "--out", str(out), "--set", f"proxies.cache_dir={tmp_path}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    sub = read_official(out, prof.space, need_acc=True)
    assert list(sub) == [f"arch{i}" for i in range(1, 6)]
    assert [v["acc"] for v in sub.values()] == [float(prof.params(c)) for c in codes]
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "proxies.py"), "--proxy", "nope",
                        "--candidates", str(cand)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "known: fisher" in r.stderr


def test_fisher_squares_per_sample(setup):
    """Duplicating the batch halves every sample's dL/da (the loss is a mean): a per-sample
    square then quarters the score, while squaring the batch sum (the old bug) halved it."""
    from track1.proxies.base import ProxyContext
    cfg, prof, st, data = setup
    x, y = data[0][:8], data[1][:8]

    class Fixed(ProxyContext):
        def __init__(self, batch):
            super().__init__(prof, prof.space.sample_codes(1, seed=4)[0], 0, st)
            self._batch = batch

        def batch(self):
            return self._batch

    fisher = PROXIES.get("fisher")
    one = fisher(Fixed((x, y)))
    two = fisher(Fixed((np.concatenate([x, x]), np.concatenate([y, y]))))
    assert two / one == pytest.approx(0.25, rel=1e-3)
