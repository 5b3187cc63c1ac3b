"""Zero-cost proxies on the config's device (issue 19 item 2): the workers of proxies that
need a network select `device`; a GPU's scores get their own cache (its generator draws other
initial weights), CPU caches keep their names."""
import json
import os
import subprocess
import sys


import track1.proxies.batch as batch
from track1.config import load_config
from track1.profile import Profile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_gpu_gets_its_own_cache_for_net_proxies_only(monkeypatch, tmp_path):
    import track1.runtime.device as devices
    cfg = load_config(None, [f"proxies.cache_dir={tmp_path}"])
    cpu = {n: batch.cache_path(cfg, n) for n in ("naswot", "flops")}
    assert batch.cache_path(load_config(None, [f"proxies.cache_dir={tmp_path}", "device=cpu"]), "naswot") == cpu["naswot"]
    monkeypatch.setattr(devices, "gpu_available", lambda: True)
    assert batch.cache_path(cfg, "naswot") != cpu["naswot"]
    assert batch.cache_path(cfg, "flops") == cpu["flops"]                     # analytic: no device
    assert batch.cache_path(load_config(None, [f"proxies.cache_dir={tmp_path}", "device=cpu"]), "naswot") == cpu["naswot"]


class _InlinePool:
    """worker_pool's interface in this process: runs the initializer, records its arguments."""
    seen = []

    def __init__(self, jobs, init, args, **kw):
        self.init, self.args = init, args

    def __enter__(self):
        _InlinePool.seen.append(self.args)
        self.init(*self.args)
        return self

    def __exit__(self, *a):
        return False

    def imap(self, fn, tasks, chunksize=1):
        return map(fn, tasks)


def test_net_proxy_workers_select_the_device(monkeypatch, tmp_path):
    cfg = load_config(None, [f"proxies.cache_dir={tmp_path}", "proxies.batch_size=8", "device=cpu"])
    prof = Profile.from_section(cfg.profile)
    selected = []
    monkeypatch.setattr(batch, "worker_pool", _InlinePool)
    monkeypatch.setattr(batch, "use", lambda d: selected.append(d) or d)
    codes = prof.space.sample_codes(2, seed=1)
    got = batch.compute_many(cfg, prof, "naswot", codes, jobs=1, progress=False)
    assert set(got) == set(codes) and selected == ["cpu"] and _InlinePool.seen[-1][-1] == "cpu"
    selected.clear()
    batch.compute_many(cfg, prof, "flops", codes, jobs=1, progress=False)       # analytic: this process, untouched
    assert selected == []


def test_device_gpu_without_one_is_one_line(tmp_path):
    prof = Profile.from_section(load_config(None).profile)
    cand = tmp_path / "c.json"
    cand.write_text(json.dumps({"arch1": {"arch": prof.space.min_code()}}))
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "proxies.py"), "--proxy", "naswot",
                        "--candidates", str(cand), "--out", str(tmp_path / "s.json"), "--set", "device=gpu",
                        "--set", f"proxies.cache_dir={tmp_path}"], capture_output=True, text=True, timeout=300,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": REPO})
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "config key 'device': gpu, but" in p.stderr and not (tmp_path / "s.json").exists()
