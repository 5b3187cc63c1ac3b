"""NAR: encoding, losses, training on a synthetic set with a known order, determinism,
the tier-guided sampler, the tool's output and its bad-input errors."""
import json
import subprocess
import sys

import numpy as np
import paddle
import pytest

from track1.candidates import read_official
from track1.metrics import kendall
from track1.nar import N_FEATURES, N_TOKENS, TierHistograms, encode, fit, predict
from track1.nar.fit import NARError, pairwise_rank_loss, tiers_of
from track1.nar.sampler import guided_codes, js_divergence

from conftest import REPO

TINY = {"d_model": 16, "heads": 2, "layers": 1, "tiers": 5, "dropout": 0.0, "tier_momentum": 0.9,
        "tier_weight": 0.5, "epochs": 40, "batch_size": 32, "lr": 0.003, "weight_decay": 0.0,
        "bins": 5, "threshold": 0.1, "proposals": 200, "seed": 0, "out": "unused"}


@pytest.fixture(scope="module")
def synth(fm_profile):
    codes = fm_profile.space.sample_codes(120, seed=3)
    accs = np.array([fm_profile.macs(c) for c in codes], np.float64)    # a known order: bigger is better
    return codes, accs


def test_encoding_shapes_and_costs(fm_profile):
    codes = fm_profile.space.sample_codes(10, seed=0) + [fm_profile.space.max_code(), fm_profile.space.min_code()]
    x = encode(fm_profile, codes)
    assert x.shape == (12, N_TOKENS, N_FEATURES) and x.dtype == np.float32
    top = fm_profile.cost(fm_profile.space.max_code())
    fc = lambda c: fm_profile.spec(c).out_channels * fm_profile.num_classes
    for code, t in zip(codes, x):
        arch = fm_profile.space.parse(code)
        assert t[:, 0].sum() == 1 + sum(arch.depths)              # stem + active blocks
        macs = t[:, 9].astype(np.float64).sum() * top["macs"] + fc(code)
        assert macs == pytest.approx(fm_profile.macs(code), rel=1e-5)
    assert x[-2, :, 6:9].max() == pytest.approx(1.0)               # the largest code: full widths


def test_tiers_and_rank_loss():
    assert tiers_of([0.1, 0.9, 0.5, 0.3, 0.7], 5).tolist() == [4, 0, 2, 3, 1]
    assert tiers_of(np.arange(10.0), 5).tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]
    s = paddle.to_tensor([1.0, 0.0], stop_gradient=False)
    loss = pairwise_rank_loss(s, paddle.to_tensor([1.0, 0.0]))
    assert float(loss) == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-6)
    loss.backward()
    g = s.grad.numpy()
    assert g[0] < 0 < g[1]                       # descent raises the better one's score
    assert float(pairwise_rank_loss(paddle.to_tensor([1.0, 0.0]), paddle.to_tensor([2.0, 2.0]))) == 0.0


def test_fit_learns_a_known_order_and_is_deterministic(fm_profile, synth):
    codes, accs = synth
    tr, te = slice(0, 90), slice(90, 120)
    model, meta = fit(TINY, fm_profile, codes[tr], accs[tr], progress=False)
    h = meta["history"]
    assert h[-1]["rank_loss"] < 0.7 * h[0]["rank_loss"]
    pred = predict(model, fm_profile, codes[te])
    assert kendall(pred, accs[te]) > 0.6
    model2, _ = fit(TINY, fm_profile, codes[tr], accs[tr], progress=False)
    np.testing.assert_array_equal(pred, predict(model2, fm_profile, codes[te]))
    model3, _ = fit(dict(TINY, seed=1), fm_profile, codes[tr], accs[tr], progress=False)
    assert not np.array_equal(pred, predict(model3, fm_profile, codes[te]))


def test_fit_rejects_too_few_labels(fm_profile, synth):
    codes, accs = synth
    with pytest.raises(NARError, match="at least 10"):
        fit(TINY, fm_profile, codes[:6], accs[:6], progress=False)


def test_js_divergence():
    assert js_divergence([1, 2, 3], [1, 2, 3]) == pytest.approx(0.0, abs=1e-9)
    assert js_divergence([1, 0, 0], [0, 0, 1]) == pytest.approx(1.0, abs=1e-6)
    assert 0 < js_divergence([1, 1, 0], [0, 1, 1]) < 1


def test_sampler_follows_the_best_tier(fm_profile, synth):
    codes, accs = synth
    hist = TierHistograms.build(fm_profile, codes, tiers_of(accs, 5), 5, 5)
    div = hist.divergence()
    assert div["macs"] > 0.5                     # labels = MACs: best and worst tiers barely overlap
    top_bins = {b for b, p in enumerate(hist.hist["macs"][0]) if p > 0}
    guided, which = guided_codes(fm_profile, hist, 40, threshold=0.1, seed=0)
    uniform, none = guided_codes(fm_profile, hist, 40, threshold=1.01, seed=0)
    assert "macs" in which and none == [] and len(set(guided)) == 40
    frac = lambda cs: np.mean([hist.bin_of("macs", fm_profile.macs(c)) in top_bins for c in cs])
    assert frac(guided) >= 0.9 and frac(guided) > frac(uniform) + 0.3
    back = TierHistograms.from_dict(json.loads(json.dumps(hist.to_dict())))
    assert back.divergence() == pytest.approx(div)


def _run(*args, cwd=REPO):
    return subprocess.run([sys.executable, "tools/nar.py", *args], cwd=cwd, capture_output=True, text=True)


def test_tool_train_predict_sample(tmp_path, fm_profile, synth):
    codes, accs = synth
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({f"arch{i + 1}": {"arch": "1" + c[-51:], "acc": float(a)}
                                  for i, (c, a) in enumerate(zip(codes, accs))}))
    cands = tmp_path / "cands.json"
    cands.write_text(json.dumps({f"arch{i + 1}": {"arch": "1" + c[-51:]} for i, c in enumerate(codes[:30])}))
    sets = ["--set", "nar.epochs=5", "--set", "nar.d_model=16", "--set", "nar.layers=1", "--set", "nar.proposals=50"]
    r = _run("train", "--labels", str(labels), "--out", str(tmp_path / "m"), *sets)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "nar.json"
    r = _run("predict", "--model", str(tmp_path / "m"), "--candidates", str(cands), "--out", str(out), *sets)
    assert r.returncode == 0, r.stderr
    sub = read_official(out, fm_profile.space, need_acc=True)
    assert list(sub) == [f"arch{i + 1}" for i in range(30)]
    r = _run("sample", "--model", str(tmp_path / "m"), "--k", "3", *sets)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 3 and all(fm_profile.space.is_valid(x["arch"]) for x in rows)
    assert [x["nar_score"] for x in rows] == sorted((x["nar_score"] for x in rows), reverse=True)


@pytest.mark.parametrize("content, msg", [
    ("{not json", "malformed JSON"),
    ('{"arch1": {"arch": "1558511111111111111111111111111111111111111111111111"}}', "missing field 'acc'"),
    ('{"arch1": {"arch": "155851111", "acc": 0.5}}', "arch1"),
])
def test_tool_bad_labels(tmp_path, content, msg):
    f = tmp_path / "bad.json"
    f.write_text(content)
    r = _run("train", "--labels", str(f), "--out", str(tmp_path / "m"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0], r.stderr


def test_cross_validation_on_a_known_order(fm_profile, synth):
    from track1.nar.crossval import cross_validate
    codes, accs = synth
    codes, accs = codes[:60], accs[:60]
    # Scorers compared on the same held-out codes: the labels themselves and their reverse.
    compare = {"same": dict(zip(codes, accs)), "reverse": dict(zip(codes, -accs))}
    rows = cross_validate(dict(TINY, epochs=20), fm_profile, codes, accs, folds=1, train_fracs=[0.5],
                          compare=compare)
    (r,) = rows
    assert r["n_train"] == 30 and r["n_test"] == 30 and r["folds"] == 1
    assert r["macs_tau"] == pytest.approx(1.0)          # the labels are the MACs
    assert r["same_tau"] == pytest.approx(1.0) and r["reverse_tau"] == pytest.approx(-1.0)
    assert r["nar_tau"] > 0.3


def test_cross_validation_compare_needs_every_code(fm_profile, synth):
    from track1.nar import NARError
    from track1.nar.crossval import cross_validate
    codes, accs = synth
    with pytest.raises(NARError, match="compare 'partial'"):
        cross_validate(dict(TINY, epochs=1), fm_profile, codes[:20], accs[:20], folds=1, train_fracs=[0.5],
                       compare={"partial": dict(zip(codes[:10], accs[:10]))})


def test_tool_cv_bad_folds_before_reading_labels(tmp_path):
    # the argument error comes first, even with a label file that does not exist
    r = _run("cv", "--labels", str(tmp_path / "none.json"), "--folds", "0")
    assert r.returncode == 2 and "--folds must be >= 1" in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
