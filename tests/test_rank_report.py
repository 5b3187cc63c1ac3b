"""benchmarks/rank_report.py: the ranking benchmark's table is joined by arch key, averages
each variant over its seeds, and pairs the bootstrap against the baseline."""
import json
import os
import subprocess
import sys

import numpy as np
from scipy import stats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _official(path, keys, codes, accs):
    path.write_text(json.dumps({k: {"arch": c, "acc": float(a)} for k, c, a in zip(keys, codes, accs)}))


def _tool(script, *args):
    return subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", script), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _report(*args):
    return _tool("rank_report.py", *args)


def _random_gt(tmp_path, fm_profile, n, code_seed, rng_seed):
    """n sampled codes with uniform random GT values in tmp_path/gt.json and an empty score
    folder tmp_path/rank; the generator is returned after drawing the GT, for the scores."""
    codes = fm_profile.space.sample_codes(n, seed=code_seed)
    keys = [f"arch{i}" for i in range(n)]
    rng = np.random.default_rng(rng_seed)
    true = rng.random(n)
    gt, runs = tmp_path / "gt.json", tmp_path / "rank"
    _official(gt, keys, codes, true)
    runs.mkdir()
    return codes, keys, rng, true, gt, runs


def test_seeds_averaged_joined_by_key(tmp_path, fm_profile):
    n = 30
    codes, keys, rng, true, gt, runs = _random_gt(tmp_path, fm_profile, n, 5, 1)
    macs = np.array([fm_profile.macs(c) for c in codes], float)       # the profile's, as the report's
    preds = {("good", 0): true + 0.2 * rng.random(n), ("good", 1): true + 0.5 * rng.random(n),
             ("spos", 0): rng.random(n)}
    for (variant, seed), p in preds.items():
        # reversed entry order: a join by position would pair the wrong codes
        _official(runs / f"{variant}-s{seed}.json", keys[::-1], codes[::-1], p[::-1])
    _official(runs / "proxy-flops.json", keys, codes, macs)
    (runs / "good-s0.history.json").write_text(json.dumps([{"val_acc_largest": 0.8, "val_acc_smallest": 0.6,
                                                            "epoch": 1.4, "time_s": 321.0}]))
    out = tmp_path / "r.jsonl"
    r = _report("--gt", gt, "--dir", runs, "--base", "spos", "--boot", "200", "--out", out)
    assert r.returncode == 0, r.stderr
    rows = {row["variant"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"good", "spos", "proxy-flops"}
    want = [stats.kendalltau(preds[("good", s)], true)[0] for s in (0, 1)]
    assert np.allclose(rows["good"]["kendall_tau_per_seed"], want)
    assert np.isclose(rows["good"]["kendall_tau"], np.mean(want))
    assert np.isclose(rows["good"]["tau_with_macs"],
                      np.mean([stats.kendalltau(preds[("good", s)], macs)[0] for s in (0, 1)]))
    assert rows["good"]["val_acc_largest"] == 0.8 and rows["spos"]["val_acc_largest"] is None
    assert rows["good"]["epochs"] == 1.4 and rows["spos"]["epochs"] is None
    assert "| 1.4 | 0.8000 / 0.6000 |" in r.stdout
    d, lo, hi = rows["good"]["tau_minus_base"]
    base_tau = stats.kendalltau(preds[("spos", 0)], true)[0]
    assert lo < d < hi and np.isclose(d, rows["good"]["kendall_tau"] - base_tau)
    assert rows["spos"]["tau_minus_base"] is None
    assert "| good | 2 |" in r.stdout
    # issue 21's goals: the best strategy against SPOS, and against FLOPs as a paired interval
    best = max(("good", "spos"), key=lambda v: rows[v]["kendall_tau"])
    vs_spos = rows[best]["kendall_tau"] - rows["spos"]["kendall_tau"]
    assert f"best strategy {best} " in r.stdout and f"{vs_spos:+.3f} vs spos" in r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith("best strategy"))
    assert "the best of 2 on this GT" in line
    d, lo, hi = (float(v) for v in line.split("vs spos (goal >= +0.10), ")[1].split(" vs flops")[0]
                 .replace("[", "").replace("]", "").replace(",", "").split())
    vs_flops = rows[best]["kendall_tau"] - rows["proxy-flops"]["kendall_tau"]
    assert lo < vs_flops < hi and abs(d - vs_flops) < 0.05

    # blending: w * rank(variant) + (1 - w) * rank(proxy); weight 0 is the proxy alone, 1 the variant alone
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--blend", "flops", "--out", out)
    assert r.returncode == 0, r.stderr
    # each supernet variant gains the ranker 'V+flops': its rank averaged with FLOPs' at weight 0.5
    rows = {row["variant"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"good", "spos", "proxy-flops", "good+flops", "spos+flops"}
    assert np.allclose(rows["good+flops"]["kendall_tau_per_seed"],
                       [stats.kendalltau(stats.rankdata(preds[("good", s)]) + stats.rankdata(macs), true)[0]
                        for s in (0, 1)])
    assert rows["good+flops"]["val_acc_largest"] is None
    row = next(line for line in r.stdout.splitlines()[::-1] if line.startswith("| good |"))
    taus = [float(x) for x in row.strip("| ").split(" | ")[1:]]
    want = [np.mean([stats.kendalltau(w * stats.rankdata(preds[("good", s)]) + (1 - w) * stats.rankdata(macs), true)[0]
                     for s in (0, 1)]) for w in (0, 0.25, 0.5, 0.75, 1)]
    assert np.allclose(taus, want, atol=6e-4)
    assert np.isclose(want[0], rows["proxy-flops"]["kendall_tau"]) and np.isclose(want[-1], rows["good"]["kendall_tau"])
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--blend", "zen")
    assert r.returncode != 0 and "proxy-zen.json" in r.stderr and "is missing" in r.stderr


def test_no_score_files_is_one_line_error(tmp_path, fm_profile):
    gt = tmp_path / "gt.json"
    _official(gt, ["arch1", "arch2"], fm_profile.space.sample_codes(2, seed=5), [0.5, 0.6])
    r = _report("--gt", gt, "--dir", tmp_path / "nothing", "--boot", "0")
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "no score files" in r.stderr


def test_the_ranking_summary_names_flops_and_holds_paired_intervals_and_self_consistency(tmp_path, fm_profile):
    """--ranking: the issue's JSON; proxies lose their 'proxy-' prefix (flops is a ranker),
    each ranker's tau minus FLOPs' and minus SPOS's as paired intervals, and the seed-to-seed
    tau of the sample scores joined by key (files written in different key orders)."""
    n = 40
    codes, keys, rng, true, gt, runs = _random_gt(tmp_path, fm_profile, n, 6, 2)
    (runs / "sample").mkdir()
    preds = {("good", 0): true + 0.1 * rng.random(n), ("good", 1): true + 0.1 * rng.random(n),
             ("spos", 0): rng.random(n), ("spos", 1): rng.random(n)}
    for (variant, seed), p in preds.items():
        _official(runs / f"{variant}-s{seed}.json", keys, codes, p)
    _official(runs / "proxy-flops.json", keys, codes, true + 0.5 * rng.random(n))
    sample = {f"s{i}": float(x) for i, x in enumerate(rng.random(200))}
    noisy = {k: v + 0.3 * rng.random() for k, v in sample.items()}
    (runs / "sample" / "good-s0.json").write_text(json.dumps(sample))
    (runs / "sample" / "good-s1.json").write_text(json.dumps(dict(reversed(list(noisy.items())))))
    out = tmp_path / "ranking.json"
    r = _report("--gt", gt, "--dir", runs, "--boot", "300", "--ranking", out)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["gt"] == str(gt) and set(res["rankers"]) == {"good", "spos", "flops"}
    good, flops = res["rankers"]["good"], res["rankers"]["flops"]
    assert good["seeds"] == 2 and flops["seeds"] == 1 and "tau_vs_flops" not in flops
    assert np.isclose(good["kendall_tau"], np.mean([stats.kendalltau(preds[("good", s)], true)[0] for s in (0, 1)]))
    lo, hi = good["tau_vs_spos"]
    spos_tau = res["rankers"]["spos"]["kendall_tau"]
    assert lo < good["kendall_tau"] - spos_tau < hi and lo > 0          # clearly better than random scores
    lo, hi = good["tau_vs_flops"]
    assert lo < good["kendall_tau"] - flops["kendall_tau"] < hi
    k = sorted(sample)
    assert np.isclose(good["self_tau_5k"], stats.kendalltau([sample[x] for x in k], [noisy[x] for x in k])[0])
    assert "self_tau_5k" not in res["rankers"]["spos"]


def test_a_score_file_lacking_gt_codes_is_left_out_or_the_gt_restricted(tmp_path, fm_profile):
    """A kept score file from before the GT grew is not silently compared on fewer codes: it is
    left out and named, or --common compares everyone on the codes all files hold."""
    n = 30
    codes, keys, rng, true, gt, runs = _random_gt(tmp_path, fm_profile, n, 7, 3)
    full, old = true + 0.3 * rng.random(n), true + 0.3 * rng.random(n)
    _official(runs / "full-s0.json", keys, codes, full)
    _official(runs / "old-s0.json", keys[:20], codes[:20], old[:20])
    out = tmp_path / "r.jsonl"
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "left out, lacking GT codes" in r.stdout and "old-s0.json (10 codes)" in r.stdout
    rows = {row["variant"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"full"} and rows["full"]["gt_n"] == n
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--out", out, "--common")
    assert r.returncode == 0, r.stderr
    assert f"the 20 of its {n} codes every score file holds" in r.stdout and "left out" not in r.stdout
    rows = {row["variant"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"full", "old"} and rows["old"]["gt_n"] == 20
    assert np.isclose(rows["full"]["kendall_tau"], stats.kendalltau(full[:20], true[:20])[0])
    # nothing covers the GT: one line that says what to do
    (runs / "full-s0.json").unlink()
    r = _report("--gt", gt, "--dir", runs, "--boot", "0")
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "--common" in r.stderr


def test_codes_restricts_the_gt_to_a_held_out_list_joined_by_key(tmp_path, fm_profile):
    n = 30
    codes, keys, rng, true, gt, runs = _random_gt(tmp_path, fm_profile, n, 9, 3)
    pred = true + 0.3 * rng.random(n)
    _official(runs / "a-s0.json", keys, codes, pred)
    held = tmp_path / "held.json"
    held.write_text(json.dumps({k: {"arch": c} for k, c in list(zip(keys, codes))[10:][::-1]}))
    out = tmp_path / "r.jsonl"
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--out", out, "--codes", held)
    assert r.returncode == 0, r.stderr
    assert f"({n - 10} codes, only those of {held})" in r.stdout
    row = json.loads(out.read_text())
    assert row["gt_n"] == n - 10 and np.isclose(row["kendall_tau"], stats.kendalltau(pred[10:], true[10:])[0])
    # comparisons named in advance: the first is the primary one, an unknown name one line
    _official(runs / "b-s0.json", keys, codes, rng.random(n))
    r = _report("--gt", gt, "--dir", runs, "--boot", "300", "--codes", held, "--pairs", "a:b", "b:a")
    assert r.returncode == 0, r.stderr
    d = stats.kendalltau(pred[10:], true[10:])[0] - stats.kendalltau(
        [json.loads((runs / "b-s0.json").read_text())[k]["acc"] for k in keys[10:]], true[10:])[0]
    assert f"primary: a - b: {d:+.3f} [" in r.stdout and f"\n  b - a: {-d:+.3f} [" in r.stdout
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--pairs", "a:c")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--pairs a:c: not two rankers" in r.stderr
    held.write_text(json.dumps({keys[0]: {"arch": codes[1]}, keys[1]: {"arch": codes[0]}}))
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--codes", held)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "another code than the GT's" in r.stderr
    held.write_text(json.dumps({keys[0]: {"arch": codes[0]}}))
    r = _report("--gt", gt, "--dir", runs, "--boot", "0", "--codes", held)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "only 1 of its 1 codes are in the GT" in r.stderr


def test_rank_codes_compare_says_whether_a_redone_file_agrees(tmp_path, fm_profile):
    codes = fm_profile.space.sample_codes(5, seed=8)
    keys = [f"arch{i}" for i in range(5)]
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    _official(a, keys[:3], codes[:3], [0.1, 0.2, 0.3])
    _official(b, keys[::-1], codes[::-1], [0.9, 0.8, 0.3, 0.2, 0.1])   # same values for a's keys, other order
    _official(c, keys, codes, [0.3, 0.2, 0.1, 0.4, 0.5])
    def run(*args):
        return _tool("rank_codes.py", "compare", *args)
    r = run(a, b)
    assert r.returncode == 0 and "3 codes in common: identical scores" in r.stdout
    r = run(a, c)
    assert r.returncode == 0 and "scores differ (max |difference| 0.2" in r.stdout and "tau between them -1.000" in r.stdout
    r = run(a, tmp_path / "none.json")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.json" in r.stderr


def test_beyond_capacity_table_and_the_gt_residual_ceiling(tmp_path, fm_profile):
    """The second table's figures in ranking.json: each ranker's partial Spearman interval
    (seeds resampled together) and tau within MAC fifths, and the GT's residual ICC and
    ceiling from its per-seed values, as track1.metrics computes them; the third's: each
    ranker's tau against one seed and its difference to a second run's."""
    from track1.metrics import (beyond_capacity_interval, gt_reliability, residual_icc, seed_partial_spearman,
                                within_strata_tau)
    n = 40
    codes = fm_profile.space.sample_codes(n, seed=9)
    keys = [f"arch{i}" for i in range(n)]
    rng = np.random.default_rng(4)
    cost = [fm_profile.cost(c) for c in codes]
    macs, params = (np.array([c[k] for c in cost], float) for k in ("macs", "params"))
    hidden = rng.normal(0, 1, n)
    seeds = np.log(macs)[:, None] + hidden[:, None] + 0.5 * rng.normal(0, 1, (n, 2))
    true = seeds.mean(1)
    gt, runs = tmp_path / "gt.json", tmp_path / "rank"
    runs.mkdir()
    gt.write_text(json.dumps({k: {"arch": c, "acc": float(t), "seeds": {"0": float(a), "1": float(b)}}
                              for k, c, t, (a, b) in zip(keys, codes, true, seeds)}))
    preds = [hidden + rng.normal(0, 1, n) for _ in range(2)]
    for s, p in enumerate(preds):
        _official(runs / f"good-s{s}.json", keys, codes, p)
    _official(runs / "proxy-flops.json", keys, codes, macs)
    out = tmp_path / "ranking.json"
    r = _report("--gt", gt, "--dir", runs, "--boot", "300", "--ranking", out)
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    g = res["gt_beyond_capacity"]
    assert np.isclose(g["residual_icc"], residual_icc(seeds, macs, params)) and g["n_repeated"] == n
    want = seed_partial_spearman(seeds, macs, params)
    assert np.isclose(g["seed_partial_spearman"], want)
    assert np.isclose(g["beyond_capacity_ceiling"], np.sqrt(gt_reliability(want, [2] * n)))
    lo, hi = g["beyond_capacity_ceiling_ci"]
    assert lo < g["beyond_capacity_ceiling"] < hi
    assert res["gt_codes"] == res["codes_compared"] == n and "left_out" not in res
    from track1.metrics import icc, tau_ceiling
    assert np.isclose(res["gt_tau_ceiling"], tau_ceiling(icc(seeds), [2] * n))        # read every tau against it
    assert f"GT noise: per-run ICC {icc(seeds):.3f} on the {n} of these codes run twice" in r.stdout
    good = res["rankers"]["good"]
    assert np.allclose(good["beyond_capacity_ci"], beyond_capacity_interval(np.stack(preds), true, macs, params, n_boot=300))
    assert np.isclose(good["tau_within_mac_strata"], np.mean([within_strata_tau(p, true, macs) for p in preds]))
    assert good["beyond_capacity_ci"][0] > 0 and res["rankers"]["flops"]["beyond_capacity"] == 0
    assert "would show about" in r.stdout
    # the third table: against one seed, next to a second run of the same codes
    one = np.mean([(stats.kendalltau(p, seeds[:, 0])[0] + stats.kendalltau(p, seeds[:, 1])[0]) / 2 for p in preds])
    assert np.isclose(good["tau_vs_one_run"], one)
    assert np.isclose(good["minus_second_run"][0], one - stats.kendalltau(seeds[:, 0], seeds[:, 1])[0])
    assert good["minus_second_run"][1] < good["minus_second_run"][0] < good["minus_second_run"][2]
    assert f"a second run of every code scores {stats.kendalltau(seeds[:, 0], seeds[:, 1])[0]:+.3f}" in r.stdout
    r = _report("--gt", gt, "--dir", runs, "--boot", "-3")
    assert r.returncode == 2 and "--boot" in r.stderr and ">= 0" in r.stderr


def test_rank_codes_collects_the_gt_and_its_lists_and_says_what_a_score_file_covers(tmp_path, fm_profile):
    """The ranking benchmark scores the GT's codes and those its build is adding; a kept score
    file covers them only with every key and the same code; clashes and bad files are one line."""
    codes = fm_profile.space.sample_codes(7, seed=10)
    other, codes = codes[6], codes[:6]
    keys = [f"arch{i}" for i in range(6)]
    d = tmp_path / "gt"
    d.mkdir()
    _official(d / "gt.json", keys[:3], codes[:3], [0.1, 0.2, 0.3])
    (d / "codes_ext.json").write_text(json.dumps({k: {"arch": c} for k, c in zip(keys[2:], codes[2:])}))
    def run(*args):
        return _tool("rank_codes.py", *args)
    out = tmp_path / "codes.json"
    r = run("collect", d, out)
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_text())
    assert list(got) == keys and [v["arch"] for v in got.values()] == codes
    full, part, wrong = tmp_path / "full.json", tmp_path / "part.json", tmp_path / "wrong.json"
    _official(full, keys[::-1], codes[::-1], range(6))
    _official(part, keys[:5], codes[:5], range(5))
    _official(wrong, keys, codes[:5] + [other], range(6))            # arch5 scored with another code
    assert [run("covers", f, out).returncode for f in (full, part, wrong)] == [0, 1, 1]
    r = run("covers", tmp_path / "none.json", out)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.json" in r.stderr
    (d / "codes_more.json").write_text(json.dumps({keys[0]: {"arch": codes[1]}}))
    r = run("collect", d, out)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "key 'arch0' has two codes" in r.stderr
