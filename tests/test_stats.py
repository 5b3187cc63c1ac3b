"""The GT statistics (track1.metrics) against seeded simulations with a known answer, and
`tools/gt.py summary` on hand-made results files."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from track1.standalone.predictions import encode_labels
from track1.metrics import (_batch_kendall, _batch_pearson, _batch_spearman, disattenuate, disattenuate_tau,
                            gt_reliability, icc, icc_interval, observed_tau, paired_bootstrap, paired_tau_se,
                            resolvable_difference, residual_icc, residual_icc_interval, second_run_beside_capacity,
                            tau_ceiling, versus_a_second_run)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _runs(rng, n, k, var_code, var_noise):
    return rng.normal(0, np.sqrt(var_code), (n, 1)) + rng.normal(0, np.sqrt(var_noise), (n, k))


def test_icc_recovers_known_variance_components():
    rng = np.random.default_rng(0)
    for k in (2, 3):
        assert icc(_runs(rng, 4000, k, 0.3, 0.7)) == pytest.approx(0.3, abs=0.03)
    assert icc(_runs(rng, 4000, 2, 0.0, 1.0)) == pytest.approx(0.0, abs=0.03)


def test_icc_interval_covers_the_truth_at_about_its_level():
    rng = np.random.default_rng(1)
    hits = []
    for i in range(150):
        m = _runs(rng, 40, 2, 0.3, 0.7)
        lo, hi = icc_interval(m, n_boot=400, seed=i)
        assert lo <= icc(m) <= hi
        hits.append(lo <= 0.3 <= hi)
    assert 0.85 <= np.mean(hits) <= 1.0
    assert icc_interval(m, seed=3) == icc_interval(m, seed=3)          # seeded


def test_gt_reliability_is_spearman_brown_and_the_gt_correlation():
    for r in (0.1, 0.5, 0.9):
        for k in (1, 2, 4):
            assert gt_reliability(r, k) == pytest.approx(k * r / (1 + (k - 1) * r))
    assert gt_reliability(-0.1, 2) == 0.0 and gt_reliability(0.3, [1, 2]) < gt_reliability(0.3, 2)
    # R is the squared correlation of the GT (mean of k runs) with the noise-free values.
    rng = np.random.default_rng(2)
    truth = rng.normal(0, np.sqrt(0.3), 20000)
    k = np.where(np.arange(truth.size) % 3 == 0, 1, 2)
    gt = truth + rng.normal(0, np.sqrt(0.7), truth.size) / np.sqrt(k)
    assert np.corrcoef(truth, gt)[0, 1] ** 2 == pytest.approx(gt_reliability(0.3, k), abs=0.015)
    assert tau_ceiling(0.3, k) == pytest.approx(float(observed_tau(1.0, gt_reliability(0.3, k))))


def test_disattenuation_recovers_the_true_tau_and_pearson_of_a_simulated_ranker():
    # End to end: the reliability comes from the ICC of a simulated two-seed GT.
    rng = np.random.default_rng(3)
    n, icc_true, tau_true = 6000, 0.4, 0.5
    truth = rng.standard_normal(n)
    runs = np.sqrt(icc_true) * truth[:, None] + np.sqrt(1 - icc_true) * rng.standard_normal((n, 2))
    a = np.sin(np.pi / 2 * tau_true)
    ranker = a * truth + np.sqrt(1 - a * a) * rng.standard_normal(n)
    rel = gt_reliability(icc(runs), 2)
    gt = runs.mean(1)
    tau_obs = stats.kendalltau(ranker, gt).statistic
    assert tau_obs < tau_true - 0.05                       # attenuated ...
    assert disattenuate_tau(tau_obs, rel) == pytest.approx(tau_true, abs=0.025)      # ... and recovered
    assert disattenuate(stats.pearsonr(ranker, gt).statistic, rel) == pytest.approx(a, abs=0.025)
    assert disattenuate_tau(float(observed_tau(0.3, 0.5)), 0.5) == pytest.approx(0.3)
    assert disattenuate_tau(0.9, 0.2) == 1.0 and disattenuate(0.9, 0.2) == 1.0       # clipped
    with pytest.raises(ValueError, match="reliability"):
        disattenuate_tau(0.2, 0.0)


def test_paired_se_matches_the_notes_table():
    # ../shared/notes/ground-truth-statistics.md: 100 codes, true taus 0.6 vs 0.5, independent
    # errors, one-seed GT of ICC 0.13: observed difference 0.03, paired SE 0.064.
    r = paired_tau_se(100, gt_reliability(0.13, 1), 0.6, 0.5, error_corr=0.0)
    assert r["diff"] == pytest.approx(0.03, abs=0.008) and r["se"] == pytest.approx(0.064, abs=0.003)


def test_resolvable_difference_is_z_se_in_a_simulation_of_paired_rankers():
    n, rel, level, c = 60, 0.6, 0.5, 0.5
    d = resolvable_difference(n, rel, level, error_corr=c, z=2.0)
    pred = paired_tau_se(n, rel, level, level - d, c)
    assert pred["diff"] == pytest.approx(2.0 * pred["se"], rel=1e-3)
    rng = np.random.default_rng(4)
    a, b = np.sin(np.pi / 2 * level), np.sin(np.pi / 2 * (level - d))
    diffs = []
    for _ in range(800):
        t, e_g, e_1, e_2 = rng.standard_normal((4, n))
        g = np.sqrt(rel) * t + np.sqrt(1 - rel) * e_g
        x_a = a * t + np.sqrt(1 - a * a) * e_1
        x_b = b * t + np.sqrt(1 - b * b) * (c * e_1 + np.sqrt(1 - c * c) * e_2)
        diffs.append(stats.kendalltau(x_a, g).statistic - stats.kendalltau(x_b, g).statistic)
    mean, sd = np.mean(diffs), np.std(diffs, ddof=1)
    assert mean == pytest.approx(pred["diff"], abs=0.012)
    assert sd == pytest.approx(pred["se"], rel=0.08)
    assert mean / sd == pytest.approx(2.0, abs=0.25)


def test_resolvable_difference_moves_the_right_way():
    base = resolvable_difference(100, 0.5, 0.4)
    assert resolvable_difference(400, 0.5, 0.4) < base           # more codes
    assert resolvable_difference(100, 0.9, 0.4) < base           # a more reliable GT
    assert resolvable_difference(100, 0.5, 0.4, error_corr=0.8) < base     # errors that cancel
    assert resolvable_difference(100, 0.5, 0.4, z=3.0) > base
    assert resolvable_difference(100, 0.5, -0.4) == base         # a ranker's sign is no noise
    assert resolvable_difference(10, 0.01, 0.4) == math.inf


def _capacity(rng, n):
    log_macs = rng.uniform(14, 16, n)
    log_params = 0.5 * log_macs + rng.normal(0, 0.2, n)
    return np.exp(log_macs), np.exp(log_params), 0.3 * log_macs + 0.2 * log_params


def test_residual_icc_is_zero_for_pure_capacity_and_positive_beyond_it():
    rng = np.random.default_rng(5)
    macs, params, cap = _capacity(rng, 2000)          # the estimate's SE: about 0.02
    pure = cap[:, None] + rng.normal(0, 0.1, (2000, 2))
    assert icc(pure) > 0.7                                       # reliable, but only capacity
    assert residual_icc(pure, macs, params) == pytest.approx(0.0, abs=0.06)
    extra = pure + rng.normal(0, 0.1, (2000, 1))                 # a code effect of the noise's size
    assert residual_icc(extra, macs, params) == pytest.approx(0.5, abs=0.06)
    lo, hi = residual_icc_interval(extra, macs, params, n_boot=300)
    assert 0.35 < lo < residual_icc(extra, macs, params) < hi < 0.65
    # On few codes, the degrees of freedom the fit used are accounted for: no bias below 0.
    vals = []
    for _ in range(200):
        macs, params, cap = _capacity(rng, 20)
        vals.append(residual_icc(cap[:, None] + rng.normal(0, 0.1, (20, 2)), macs, params))
    assert np.mean(vals) == pytest.approx(0.0, abs=0.05)
    lo, hi = residual_icc_interval(cap[:, None] + rng.normal(0, 0.1, (20, 2)), macs, params, n_boot=500)
    assert lo < 0 < hi


def test_a_second_run_beats_flops_only_when_the_gt_holds_reliable_signal_past_capacity():
    """Each seed ranking the other, against MACs: with a code effect beyond capacity larger
    than the run noise the second run (and its blend with MACs) is above MACs with an interval
    above 0; with values that are capacity plus noise it is below MACs (it carries the noise
    and nothing MACs lacks), and its blend is not shown above."""
    rng = np.random.default_rng(7)
    n = 150
    macs, params, cap = _capacity(rng, n)
    cap = cap / cap.std()
    rich = cap[:, None] + 2 * rng.normal(0, 1, (n, 1)) + 0.3 * rng.normal(0, 1, (n, 2))
    r = second_run_beside_capacity(rich, macs, n_boot=300)
    c = r["macs"]
    assert c["n_codes"] == n and c["second_run"] > c["tau"] + 0.2
    assert c["ci"][1] < 0 and r["blend_minus_macs"]["ci"][0] > 0
    assert c["diff"] == pytest.approx(c["tau"] - c["second_run"])
    assert c["tau"] == pytest.approx(np.mean([stats.kendalltau(macs, rich[:, j])[0] for j in (0, 1)]))
    noisy = cap[:, None] + 1.5 * rng.normal(0, 1, (n, 2))
    r = second_run_beside_capacity(noisy, macs, n_boot=300)
    assert r["macs"]["ci"][0] > 0
    assert r["blend_minus_macs"]["ci"][0] < 0
    assert r["macs"]["second_run"] == pytest.approx(stats.kendalltau(noisy[:, 0], noisy[:, 1])[0])


def test_a_ranker_that_knows_the_noise_free_values_beats_a_second_run_and_a_noisier_one_does_not():
    rng = np.random.default_rng(8)
    n = 150
    value = rng.normal(0, 1, n)
    runs = value[:, None] + 1.0 * rng.normal(0, 1, (n, 2))          # per-run ICC 0.5
    exact = versus_a_second_run(value, runs, n_boot=300)
    assert exact["ci"][0] > 0 and exact["n_codes"] == n
    assert exact["second_run"] == pytest.approx(stats.kendalltau(runs[:, 0], runs[:, 1])[0])
    noisy = versus_a_second_run(np.stack([value + 3 * rng.normal(0, 1, n) for _ in range(2)]), runs, n_boot=300)
    assert noisy["ci"][1] < 0
    assert noisy["diff"] == pytest.approx(noisy["tau"] - noisy["second_run"])


def test_beyond_capacity_is_zero_for_size_and_finds_knowledge_past_it():
    """Simulated GT = capacity + a hidden term + noise: FLOPs and params (functions of
    capacity) score exactly 0; a ranker that knows the hidden term scores high with an
    interval above 0; a random ranker's interval holds 0; a ranker that knows capacity
    only a little, plus the hidden term, still scores above 0 (size is removed from both)."""
    from track1.metrics import beyond_capacity, beyond_capacity_interval
    rng = np.random.default_rng(4)
    n = 120
    macs = rng.lognormal(15, 0.3, n)
    params = macs ** 0.8 * rng.lognormal(0, 0.1, n)
    hidden = rng.normal(0, 1, n)
    true = np.log(macs) / 0.3 + hidden + 0.5 * rng.normal(0, 1, n)
    assert beyond_capacity(macs, true, macs, params) == 0.0
    assert beyond_capacity(-params, true, macs, params) == 0.0
    lo, hi = beyond_capacity_interval(hidden, true, macs, params, n_boot=400)
    assert beyond_capacity(hidden, true, macs, params) > 0.6 and lo > 0.4
    lo, hi = beyond_capacity_interval(rng.normal(0, 1, n), true, macs, params, n_boot=400)
    assert lo < 0 < hi
    assert beyond_capacity(0.2 * np.log(macs) + hidden, true, macs, params) > 0.6


def test_batch_metrics_equal_scipy_with_bootstrap_ties():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=25), rng.normal(size=25)
    idx = rng.integers(0, 25, (6, 25))
    for batch, one in ((_batch_kendall, stats.kendalltau), (_batch_spearman, stats.spearmanr),
                       (_batch_pearson, stats.pearsonr)):
        np.testing.assert_allclose(batch(x[idx], y[idx]), [one(x[i], y[i]).statistic for i in idx], atol=1e-12)


def test_paired_bootstrap_orders_a_clearly_better_ranker():
    rng = np.random.default_rng(7)
    true = rng.normal(size=80)
    good, bad = true + 0.3 * rng.normal(size=80), true + 2.0 * rng.normal(size=80)
    res = paired_bootstrap(good, bad, true, n_boot=300)
    for k, m in res.items():
        assert m["ci"][0] > 0 and m["diff"] == pytest.approx(m["a"] - m["b"])
    same = paired_bootstrap(good, good, true, n_boot=100)
    assert all(m["diff"] == 0 and m["ci"] == [0.0, 0.0] for m in same.values())


# --------------------------------------------------------------------------- gt.py summary

CODE = "1222233333000000333300000055550000000000007777000000"


def _gt_tool(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _v2_runs(n=14, repeated=10, images=200, seed=0):
    """New-format records: flip / average metrics, per-image predictions on the repeated codes.
    Seed 1 of a repeated code flips the predictions of exactly 10% of the images."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, images)
    rows = []
    for i in range(n):
        quality = rng.normal()
        for s in (0, 1) if i < repeated else (0,):
            acc = 0.9 + 0.003 * quality + 0.001 * rng.normal()
            row = {"key": f"arch{i + 1}", "arch": f"c{i}", "seed": s, "macs": 1000 + 37 * i, "params": 100 + (i * 7) % 13,
                   "acc": acc, "test_loss": 0.3 - 0.01 * quality + 0.002 * rng.normal(), "acc_flip": acc + 0.002,
                   "test_loss_flip": 0.29, "acc_avg": acc + 0.001, "test_loss_avg": 0.28 - 0.01 * quality,
                   "acc_avg_flip": acc + 0.003, "test_loss_avg_flip": 0.27 - 0.01 * quality, "wall_s": 10.0 + s,
                   "protocol": "p"}
            if i < repeated:
                pred = labels.copy()
                if s == 1:
                    pred[:images // 10] = (pred[:images // 10] + 1) % 10
                row["pred"] = encode_labels(pred)
                row["pred_avg"] = encode_labels(labels)            # the averages agree
            rows.append(row)
    return rows


def _write(path, rows, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return path


def test_summary_reports_cpu_time_of_the_runs_that_record_it(tmp_path):
    # A paused run: 100 s of wall time, 12 s of CPU. Runs from before cpu_s was recorded are
    # left out of the CPU figure and of the wall figure beside it, not counted as 0.
    rows = _v2_runs()
    for i, r in enumerate(rows[:4]):
        r.update(cpu_s=10.0 + i, wall_s=100.0 if i == 0 else 10.0)
    from track1.gt.summary import summarize
    s = summarize(rows, n_boot=50)
    assert s["cpu_time"] == {"n_runs": 4, "cpu_s_mean": pytest.approx(11.5), "wall_s_mean": pytest.approx(32.5)}
    r = _gt_tool("summary", _write(tmp_path / "c.jsonl", rows), "--boot", "50")
    assert "(the 4 that record CPU time: 12 s CPU, 32 s wall)" in r.stdout, r.stdout
    assert "record CPU time" not in _gt_tool("summary", _write(tmp_path / "w.jsonl", _v2_runs()), "--boot", "50").stdout


def test_summary_names_the_machines_the_runs_were_computed_on(tmp_path):
    rows = _v2_runs()
    for i, r in enumerate(rows):
        r.pop("cpu", None)
        if i % 3:
            r["cpu"] = "AMD EPYC, avx2, 2 cpus" if i % 3 == 1 else "Intel(R) Xeon(R), avx512f, 2 cpus"
    from track1.gt.summary import summarize
    n = len(rows)
    want = sorted([("AMD EPYC, avx2, 2 cpus", len(range(1, n, 3))), ("Intel(R) Xeon(R), avx512f, 2 cpus", len(range(2, n, 3))),
                   ("not recorded", len(range(0, n, 3)))], key=lambda kv: (-kv[1], kv[0]))
    s = summarize(rows, n_boot=20)
    assert s["machines"] == want
    cpus = {}
    for r in rows:
        cpus.setdefault(r["arch"], set()).add(r.get("cpu", "none"))
    mixed = sum(len(c) > 1 for c in cpus.values())
    assert s["codes_on_several_machines"] == mixed > 0
    out = _gt_tool("summary", _write(tmp_path / "m.jsonl", rows), "--boot", "20").stdout
    line = "computed on: " + "; ".join(f"{c} ({k})" for c, k in want) + f"; {mixed} codes have runs on more than one"
    assert line in out, out
    one = [dict(r, cpu="AMD EPYC, avx2, 2 cpus") for r in rows]
    assert summarize(one, n_boot=20)["codes_on_several_machines"] == 0


def test_host_cpu_names_a_cap_on_onednn_kernels(monkeypatch):
    from track1.version import host_cpu
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    plain = host_cpu.__wrapped__()
    assert "cpus" in plain and "capped" not in plain
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert host_cpu.__wrapped__() == plain + ", oneDNN capped at AVX2"        # one name however it is spelt


def test_summary_reports_every_recorded_metric_and_the_disagreement(tmp_path):
    rows = _v2_runs()
    r = _gt_tool("summary", _write(tmp_path / "v3.jsonl", rows), "--json", "--boot", "200")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["metrics"] == ["acc", "test_loss", "acc_flip", "test_loss_flip", "acc_avg", "test_loss_avg",
                            "acc_avg_flip", "test_loss_avg_flip"]
    for key in ("icc", "icc_ci", "seed_tau", "seed_pearson", "seed_sd", "between_sd", "code_sd", "tau_ceiling",
                "tau_macs", "tau_params", "n_repeated", "residual_icc", "residual_icc_ci", "beyond_capacity"):
        assert key in s["acc"], key
    assert s["acc"]["n_repeated"] == 10 and s["acc"]["n_codes"] == 14
    mat = np.array([[r["acc"] for r in rows if r["arch"] == f"c{i}"] for i in range(10)])
    assert s["acc"]["icc"] == pytest.approx(icc(mat))
    assert s["disagreement"]["pred"] == {"mean": pytest.approx(0.1), "n_codes": 10}
    assert s["disagreement"]["pred_avg"]["mean"] == 0.0
    assert s["wall_s_mean"] == pytest.approx(np.mean([r["wall_s"] for r in rows]))
    assert s["test_loss_flip"]["constant"] and "icc" not in s["test_loss_flip"]      # no nan, no warning
    r = _gt_tool("summary", tmp_path / "v3.jsonl", "--boot", "200")
    assert "test_loss_avg_flip: 14 codes" in r.stdout and "disagree on 10.00% of the test images (10 codes)" in r.stdout
    assert r.stderr == ""


def test_summary_says_when_nothing_beyond_capacity_is_reliable(tmp_path):
    rows = _v2_runs(n=30, repeated=30)
    for r in rows:                    # pure capacity: a function of MACs plus run noise
        r["acc"] = 0.9 + 0.0001 * r["macs"] / 37 + 0.001 * np.random.default_rng([int(r["arch"][1:]), r["seed"]]).normal()
    r = _gt_tool("summary", _write(tmp_path / "r.jsonl", [{k: v for k, v in r.items() if not k.endswith("flip")
                                                         and "avg" not in k and "pred" not in k} for r in rows]))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("no ranker can be shown to know more than FLOPs/params on this GT by acc")
    assert "not even a stand-alone run of every code, alone or beside MACs, is shown above MACs" in r.stdout
    # a GT whose codes differ far more than their runs, and not by size: the second run is above MACs
    rows = _v2_runs(n=30, repeated=30)
    r = _gt_tool("summary", _write(tmp_path / "q.jsonl", rows), "--json", "--boot", "300")
    second = json.loads(r.stdout)["acc"]["second_run"]
    assert second["macs"]["ci"][1] < 0 and second["blend_minus_macs"]["ci"][0] > 0
    r = _gt_tool("summary", tmp_path / "q.jsonl", "--boot", "300")
    assert "a second run of every code as the ranker" in r.stdout and "not even a stand-alone run" not in r.stdout


@pytest.mark.parametrize("case,msg", [
    ("dir", "is a directory, not a results file"),
    ("list", "line 2: a JSON list, expected an object"),
    ("binary", "is not a text file"),
    ("macs", "line 1: 'macs' must be a finite positive number"),
    ("boot", "--boot must be at least 1"),
])
def test_summary_bad_inputs_one_line_exit_2(tmp_path, case, msg):
    p = tmp_path / "r.jsonl"
    rows = _v2_runs(n=4, repeated=2)
    extra = []
    if case == "dir":
        p = tmp_path
    elif case == "list":
        p.write_text(json.dumps(rows[0]) + "\n[1, 2]\n")
    elif case == "binary":
        p.write_bytes(bytes(range(256)) * 4)
    elif case == "macs":
        _write(p, [{**rows[0], "macs": 0}])
    else:
        _write(p, rows)
        extra = ["--boot", "0"]
    r = _gt_tool("summary", p, *extra)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_summary_torn_last_line_is_dropped_and_said(tmp_path):
    rows = _v2_runs(n=6, repeated=4)
    r = _gt_tool("summary", _write(tmp_path / "r.jsonl", rows, tail='{"arch": "c9", "se'), "--json", "--boot", "50")
    assert r.returncode == 0 and "1 torn line skipped" in r.stderr and r.stderr.count("\n") == 1
    assert json.loads(r.stdout)["n_runs"] == len(rows)


def test_to_gt_accepts_every_metric_and_negates_losses(tmp_path):
    from track1.gt.summary import METRICS, to_gt
    rows = _v2_runs(n=5, repeated=2)
    for metric in METRICS:
        gt = to_gt(rows, metric)
        sign = -1 if metric.startswith("test_loss") else 1
        assert gt["arch1"]["acc"] == pytest.approx(sign * np.mean([r[metric] for r in rows if r["arch"] == "c0"]))
    with pytest.raises(ValueError, match="has no 'acc_avg'"):
        to_gt([{k: v for k, v in r.items() if k != "acc_avg"} for r in rows], "acc_avg")


def test_spread_order_lives_in_the_library():
    from track1.gt.select import spread_order
    assert spread_order(range(8), key=lambda x: x) == [0, 4, 2, 6, 1, 5, 3, 7]


def test_paired_icc_difference_orders_a_less_noisy_protocol():
    """Two protocols on the same 40 codes (same true code values), B with twice A's noise sd:
    the paired interval of ICC(A) - ICC(B) lies above 0 and covers the true difference;
    a protocol against itself differs by exactly 0."""
    from track1.metrics import paired_icc_difference
    rng = np.random.default_rng(8)
    truth = rng.normal(0, 1, (40, 1))
    a = truth + rng.normal(0, 0.6, (40, 2))
    b = truth + rng.normal(0, 1.2, (40, 2))
    res = paired_icc_difference(a, b, n_boot=1000)
    true_diff = 1 / (1 + 0.36) - 1 / (1 + 1.44)
    assert res["diff"] == pytest.approx(icc(a) - icc(b)) and res["ci"][0] > 0
    assert res["ci"][0] < true_diff < res["ci"][1]
    same = paired_icc_difference(a, a, n_boot=200)
    assert same["diff"] == 0 and same["ci"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="same codes"):
        paired_icc_difference(a, b[:30])


def test_gt_compare_pairs_two_protocols_on_their_common_codes(tmp_path):
    """gt.py compare: only codes both files ran with both seeds count (here 20 of A's 25);
    the quieter protocol wins its paired interval; too few common codes is one line, exit 2."""
    rng = np.random.default_rng(9)
    truth = rng.normal(0, 1, 25)

    def rows(noise, n):
        return [{"arch": f"c{i}", "seed": s, "acc": 0.9 + 0.003 * truth[i] + noise * rng.normal(),
                 "test_loss": 0.3 - 0.01 * truth[i] + 3 * noise * rng.normal(), "macs": 100 + i, "params": 10 + i,
                 "wall_s": 5.0 if noise < 0.002 else 1.0, "protocol": "p"} for i in range(n) for s in (0, 1)]
    a, b = _write(tmp_path / "a.jsonl", rows(0.001, 25)), _write(tmp_path / "b.jsonl", rows(0.004, 20))
    r = _gt_tool("compare", a, b, "--json", "--boot", "500")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    m = res["metrics"]["acc"]
    assert m["n_codes"] == 20 and m["ci"][0] > 0 and m["verdict"] == "A > B"
    assert res["wall_s_a"] == 5.0 and res["wall_s_b"] == 1.0
    assert set(res["metrics"]) == {"acc", "test_loss"}
    r = _gt_tool("compare", a, b, "--boot", "200")
    assert "A > B" in next(x for x in r.stdout.splitlines() if x.startswith("acc "))
    c = _write(tmp_path / "c.jsonl", rows(0.001, 25)[:4])
    r = _gt_tool("compare", a, c)
    assert r.returncode == 2 and "share fewer than 3 codes" in r.stderr and r.stderr.strip().count("\n") == 0


def test_beyond_capacity_interval_of_a_seed_stack_and_the_within_strata_tau():
    """A stack of seeds gives the interval of their mean (it holds the mean of the per-seed
    values, and a single row equals the 1-D call). Within MAC strata: the GT itself scores 1,
    a ranker constant inside every stratum orders nothing there (0), one that knows the
    hidden term scores well above 0 and a random one near 0."""
    from track1.metrics import beyond_capacity, beyond_capacity_interval, within_strata_tau
    rng = np.random.default_rng(5)
    n = 100
    macs = rng.lognormal(15, 0.3, n)
    params = macs ** 0.8 * rng.lognormal(0, 0.1, n)
    hidden = rng.normal(0, 1, n)
    true = np.log(macs) / 0.3 + hidden
    seeds = np.stack([hidden + rng.normal(0, 1, n), hidden + rng.normal(0, 1, n)])
    lo, hi = beyond_capacity_interval(seeds, true, macs, params, n_boot=400)
    mean = np.mean([beyond_capacity(x, true, macs, params) for x in seeds])
    assert lo < mean < hi and lo > 0
    assert beyond_capacity_interval(seeds[:1], true, macs, params, n_boot=200) == \
        beyond_capacity_interval(seeds[0], true, macs, params, n_boot=200)
    assert np.isclose(within_strata_tau(true, true, macs), 1.0)
    strata = np.array_split(np.argsort(macs, kind="stable"), 5)
    step = np.zeros(n)
    for i, g in enumerate(strata):
        step[g] = i                                    # knows the stratum, nothing inside it
    assert within_strata_tau(step, true, macs) == 0.0
    step[strata[0]] = true[strata[0]]                  # perfect in one fifth, constant in four
    assert np.isclose(within_strata_tau(step, true, macs), 0.2)
    assert within_strata_tau(hidden, true, macs) > 0.4
    assert abs(within_strata_tau(rng.normal(0, 1, n), true, macs)) < 0.2


def test_the_ceiling_of_beyond_capacity_from_the_seeds_partial_spearman():
    """Simulated GT = capacity + a hidden term + run noise, 2 seeds per code: a ranker that
    knows the noise-free values shows a partial Spearman with the GT's means close to
    sqrt(gt_reliability(seed_partial_spearman)), at two noise levels; the interval holds it."""
    from track1.metrics import beyond_capacity, seed_partial_spearman
    rng = np.random.default_rng(6)
    n = 4000           # the gap's sd over seeds of this simulation is about 0.01 / 0.02 at the two levels
    macs = rng.lognormal(15, 0.3, n)
    params = macs ** 0.8 * rng.lognormal(0, 0.1, n)
    clean = np.log(macs) / 0.3 + rng.normal(0, 1, n)
    for sd in (1.0, 2.0):
        runs = clean[:, None] + sd * rng.normal(0, 1, (n, 2))
        r, (lo, hi) = seed_partial_spearman(runs, macs, params, n_boot=200)
        assert lo < r < hi and r == seed_partial_spearman(runs, macs, params)
        ceiling = np.sqrt(gt_reliability(r, [2] * n))
        assert abs(beyond_capacity(clean, runs.mean(1), macs, params) - ceiling) < 0.07
    assert seed_partial_spearman(np.column_stack([np.log(macs)] * 2), macs, params) == 0.0   # capacity only
