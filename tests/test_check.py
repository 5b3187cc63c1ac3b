import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from track1.config import load_config as _load_config  # noqa: E402
from track1.profile import Profile as _Profile  # noqa: E402

SPACE = _Profile.from_section(_load_config(None).profile).space

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


def test_plot_into_a_missing_directory_and_an_unwritable_path(tmp_path, fm_profile):
    codes = _codes(fm_profile, 10)
    keys = [f"a{i}" for i in range(10)]
    gt = _write(tmp_path / "gt.json", keys, codes, np.linspace(0, 1, 10))
    sub = _write(tmp_path / "sub.json", keys, codes, np.linspace(0, 1, 10) ** 2)
    r = _check(sub, "--gt", gt, "--plot", tmp_path / "new" / "dir" / "p.png", "--boot", "0")
    assert r.returncode == 0 and (tmp_path / "new" / "dir" / "p.png").stat().st_size > 1000, r.stderr
    (tmp_path / "file").write_text("")           # a parent that is a file: no directory can be made
    r = _check(sub, "--gt", gt, "--plot", tmp_path / "file" / "p.png", "--boot", "0")
    assert r.returncode == 2 and "board B Kendall tau 1.0000" in r.stdout       # the figures came first
    assert r.stderr.startswith("error: --plot") and r.stderr.count("\n") == 1, r.stderr


def test_codes_are_validated_in_full_and_compared_in_canonical_form(tmp_path, fm_profile):
    from track1.check import check_files
    codes = _codes(fm_profile, 8)
    keys = [f"a{i}" for i in range(8)]
    gt = _write(tmp_path / "gt.json", keys, codes, np.linspace(0.8, 0.9, 8))
    # the 51-char rules form of the same codes joins
    sub = _write(tmp_path / "sub.json", keys, [c[1:] for c in codes], np.arange(8.0))
    assert check_files(sub, gt, SPACE, boot=0)["kendall_tau"] == pytest.approx(1.0)
    # an image-size char the space does not allow does not (the last 51 chars agree)
    bad = _write(tmp_path / "bad.json", keys, ["2" + codes[0][1:]] + codes[1:], np.arange(8.0))
    r = _check(bad, "--gt", gt, "--boot", "0")
    assert r.returncode == 2 and "entry 'a0'" in r.stderr and "image-size code 2" in r.stderr
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("values,msg", [
    # One rule for every input file (candidates.ACC_LIMIT): the statistics stay finite.
    ([1e308, -1e308, 5e307], "magnitude at most 1e+100, got 1e+308"),
    ([1.7e308, 1.6e308, 1.5e308], "magnitude at most 1e+100, got 1.7e+308"),
])
def test_overflowing_scores_refused(tmp_path, fm_profile, values, msg):
    codes = _codes(fm_profile, 6)
    keys = [f"a{i}" for i in range(6)]
    gt = _write(tmp_path / "gt.json", keys, codes, np.linspace(0.8, 0.9, 6))
    sub = _write(tmp_path / "sub.json", keys, codes, values + [1.0, 2.0, 3.0])
    r = _check(sub, "--gt", gt)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1 and "nan" not in r.stdout, r.stderr


def test_negative_boot_refused_zero_means_none(tmp_path, fm_profile):
    from track1.candidates import CandidateError
    from track1.check import check_files
    codes = _codes(fm_profile, 6)
    keys = [f"a{i}" for i in range(6)]
    gt = _write(tmp_path / "gt.json", keys, codes, np.linspace(0.8, 0.9, 6))
    sub = _write(tmp_path / "sub.json", keys, codes, np.arange(6.0))
    assert "ci" not in check_files(sub, gt, SPACE, boot=0)
    with pytest.raises(CandidateError, match=r"--boot must be at least 0 \(0 = no intervals\), got -1"):
        check_files(sub, gt, SPACE, boot=-1)
    r = _check(sub, "--gt", gt, "--boot", "-5")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "got -5" in r.stderr


def test_noise_figures_of_a_gt_with_seeds(tmp_path, fm_profile):
    from track1.check import check_files
    from track1.metrics import disattenuate, disattenuate_tau, gt_reliability, icc, resolvable_difference
    n = 30
    codes = _codes(fm_profile, n)
    rng = np.random.default_rng(2)
    truth = rng.normal(size=n)
    runs = truth[:, None] + rng.normal(size=(n, 2))
    gt = {f"a{i}": {"arch": codes[i], "acc": float(r.mean()), "seeds": {"0": r[0], "1": r[1]}, "n_seeds": 2}
          for i, r in enumerate(runs)}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    sub = _write(tmp_path / "sub.json", list(gt), codes, truth + 0.5 * rng.normal(size=n))
    res = check_files(sub, tmp_path / "gt.json", SPACE, boot=0)
    g = res["gt_noise"]
    rel = gt_reliability(icc(runs), 2)
    assert g["reliability"] == pytest.approx(rel)
    assert g["disattenuated"]["kendall_tau"] == pytest.approx(disattenuate_tau(res["kendall_tau"], rel))
    assert g["disattenuated"]["pearson_abs"] == pytest.approx(disattenuate(res["pearson_abs"], rel))
    assert g["resolvable_tau_difference"] == pytest.approx(
        resolvable_difference(n, rel, g["disattenuated"]["kendall_tau"], 0.5, 2.0))
    text = _check(sub, "--gt", tmp_path / "gt.json", "--boot", "0").stdout
    assert f"GT reliability {rel:.3f}" in text and "disattenuated (vs the noise-free values): Kendall tau" in text
    assert f"a true tau difference of {g['resolvable_tau_difference']:.3f}" in text
    # beside a second run of the same codes: the submission against each seed alone
    scores = json.loads((tmp_path / "sub.json").read_text())
    p = np.array([scores[k]["acc"] for k in gt])
    v = g["second_run"]
    one = (stats.kendalltau(p, runs[:, 0])[0] + stats.kendalltau(p, runs[:, 1])[0]) / 2
    assert v["n_codes"] == n and v["tau"] == pytest.approx(one) and v["ci"] is None
    assert v["second_run"] == pytest.approx(stats.kendalltau(runs[:, 0], runs[:, 1])[0])
    assert f"a second stand-alone run of each code scores {v['second_run']:.3f}" in text
    res = check_files(sub, tmp_path / "gt.json", SPACE, boot=200)
    lo, hi = res["gt_noise"]["second_run"]["ci"]
    assert lo < res["gt_noise"]["second_run"]["diff"] < hi


def test_the_check_says_what_a_submission_knows_beyond_capacity(tmp_path, fm_profile):
    """A submission that is the codes' MACs scores 0 beyond capacity; the line is printed
    and its JSON carries the partial Spearman of the library with an interval."""
    from track1.metrics import beyond_capacity
    n = 40
    codes = _codes(fm_profile, n)
    keys = [f"arch{i}" for i in range(n)]
    macs = np.array([fm_profile.macs(c) for c in codes], float)
    params = np.array([fm_profile.cost(c)["params"] for c in codes], float)
    rng = np.random.default_rng(5)
    hidden = rng.normal(0, 1, n)
    true = np.log(macs) * 3 + hidden
    gt = _write(tmp_path / "gt.json", keys, codes, true)
    res = json.loads(_check(_write(tmp_path / "m.json", keys, codes, macs), "--gt", gt, "--json", "--boot", "100").stdout)
    assert res["beyond_capacity"]["partial_spearman"] == 0.0
    r = _check(_write(tmp_path / "h.json", keys, codes, hidden), "--gt", gt, "--boot", "200")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("beyond capacity"))
    want = beyond_capacity(hidden, true, macs, params)
    assert f"{want:+.4f}" in line and want > 0.5


def test_a_config_without_a_ground_truth_asks_for_gt_in_one_line(tmp_path, fm_profile):
    """imagenet ships no GT: the check names the missing key instead of reading the repo root."""
    codes = _codes(fm_profile, 6)
    sub = _write(tmp_path / "sub.json", [f"a{i}" for i in range(6)], codes, np.arange(6.0))
    r = _check(sub, "--config", "imagenet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "no --gt given and config key 'train.gt' is not set" in r.stderr
