import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _codes(fm_profile, n):
    return fm_profile.space.sample_codes(n, seed=21)


def _write(path, keys, codes, accs):
    path.write_text(json.dumps({k: {"arch": c, "acc": a} for k, c, a in zip(keys, codes, accs)}))
    return path


def _check(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "check.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_known_values_joined_by_key_not_order(tmp_path, fm_profile):
    n = 40
    codes = _codes(fm_profile, n)
    keys = [f"arch{i}" for i in range(n)]
    rng = np.random.default_rng(0)
    true = rng.random(n)
    pred = true + 0.3 * rng.random(n)
    gt = _write(tmp_path / "gt.json", keys, codes, true)
    # the submission lists the same entries in reversed order: a join by order would break
    sub = _write(tmp_path / "sub.json", keys[::-1], codes[::-1], pred[::-1])
    r = _check(sub, "--gt", gt, "--json", "--boot", "200")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["n"] == n
    assert res["kendall_tau"] == pytest.approx(stats.kendalltau(pred, true).statistic)
    assert res["pearson_abs"] == pytest.approx(abs(stats.pearsonr(pred, true).statistic))
    assert res["spearman"] == pytest.approx(stats.spearmanr(pred, true).statistic)
    lo, hi = res["ci"]["kendall_tau"]
    assert lo <= res["kendall_tau"] <= hi
    assert "gt_noise" not in res          # a GT without per-seed values: no ceiling claimed
    # perfect and reversed rankings
    assert json.loads(_check(_write(tmp_path / "p.json", keys, codes, true), "--gt", gt, "--json",
                             "--boot", "0").stdout)["kendall_tau"] == pytest.approx(1.0)
    res = json.loads(_check(_write(tmp_path / "r.json", keys, codes, -true), "--gt", gt, "--json", "--boot", "0").stdout)
    assert res["kendall_tau"] == pytest.approx(-1.0) and res["pearson_abs"] == pytest.approx(1.0)
    assert res["top10pct"] == 0.0


def test_gt_noise_ceiling_from_seeds(tmp_path, fm_profile):
    from track1.metrics import icc, tau_ceiling
    n = 20
    codes = _codes(fm_profile, n)
    rng = np.random.default_rng(1)
    truth = rng.normal(0.9, 0.003, n)
    runs = [list(truth[i] + rng.normal(0, 0.003, 2 if i < 12 else 1)) for i in range(n)]
    gt = {f"arch{i}": {"arch": codes[i], "acc": float(np.mean(r)), "seeds": {str(s): v for s, v in enumerate(r)},
                       "n_seeds": len(r)} for i, r in enumerate(runs)}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    sub = _write(tmp_path / "sub.json", list(gt), codes, truth)
    res = json.loads(_check(sub, "--gt", tmp_path / "gt.json", "--json", "--boot", "0").stdout)
    expect = icc(np.array(runs[:12]))
    assert res["gt_noise"]["n_repeated"] == 12 and res["gt_noise"]["icc"] == pytest.approx(expect)
    assert res["gt_noise"]["tau_ceiling"] == pytest.approx(tau_ceiling(expect, [2] * 12 + [1] * 8))
    text = _check(sub, "--gt", tmp_path / "gt.json", "--boot", "0").stdout
    assert f"a perfect ranker reaches tau ~{res['gt_noise']['tau_ceiling']:.3f}" in text


def test_top_k_precision():
    from track1.metrics import top_k_precision
    true = np.arange(100)
    pred = true.copy()
    pred[99], pred[0] = pred[0], pred[99]        # the best code predicted worst
    assert top_k_precision(pred, true, 0.05) == pytest.approx(4 / 5)


def test_plot(tmp_path, fm_profile):
    codes = _codes(fm_profile, 10)
    keys = [f"a{i}" for i in range(10)]
    gt = _write(tmp_path / "gt.json", keys, codes, np.linspace(0, 1, 10))
    sub = _write(tmp_path / "sub.json", keys, codes, np.linspace(0, 1, 10) ** 2)
    r = _check(sub, "--gt", gt, "--plot", tmp_path / "p.png", "--boot", "0")
    assert r.returncode == 0 and (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize("case,msg", [
    ("missing_key", "GT key 'a3' is missing from the submission"),
    ("extra_key", "submission key 'zz' is not in the GT file"),
    ("code_differs", "key 'a2': submission code"),
    ("nan", "entry 'a1': 'acc' must be a finite number"),
    ("no_acc", "entry 'a1': missing field 'acc'"),
    ("list", "expected a non-empty JSON object"),
    ("broken", "malformed JSON"),
    ("constant", "every joined score is equal"),
    ("constant_gt", "GT file: every joined accuracy is equal"),
])
def test_malformed_inputs_one_line_exit_2(tmp_path, fm_profile, case, msg):
    codes = _codes(fm_profile, 6)
    keys = [f"a{i}" for i in range(6)]
    gt = _write(tmp_path / "gt.json", keys, codes, np.linspace(0.8, 0.9, 6))
    sub = {k: {"arch": c, "acc": float(i)} for i, (k, c) in enumerate(zip(keys, codes))}
    text = None
    if case == "missing_key":
        del sub["a3"]
    elif case == "extra_key":
        sub["zz"] = {"arch": fm_profile.space.max_code(), "acc": 1.0}
    elif case == "code_differs":
        sub["a2"]["arch"] = fm_profile.space.max_code()
    elif case == "nan":
        text = json.dumps(sub).replace('"acc": 1.0', '"acc": NaN')
    elif case == "no_acc":
        del sub["a1"]["acc"]
    elif case == "list":
        text = "[]"
    elif case == "broken":
        text = "{"
    elif case == "constant":
        for v in sub.values():
            v["acc"] = 0.5
    elif case == "constant_gt":
        gt = _write(tmp_path / "gt.json", keys, codes, np.full(6, 0.85))
    p = tmp_path / "sub.json"
    p.write_text(text if text is not None else json.dumps(sub))
    r = _check(p, "--gt", gt, "--boot", "0")
    assert r.returncode == 2 and msg in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
