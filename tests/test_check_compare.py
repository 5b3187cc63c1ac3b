"""`tools/check.py compare A B --gt GT`: paired bootstrap of two submissions on one GT."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from track1.candidates import CandidateError
from track1.check import compare_files

from track1.config import load_config as _load_config  # noqa: E402
from track1.profile import Profile as _Profile  # noqa: E402

SPACE = _Profile.from_section(_load_config(None).profile).space

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 40


@pytest.fixture(scope="module")
def setup(tmp_path_factory, fm_profile):
    """A GT with per-seed values and three submissions: close to it, far from it, and the
    close one listed in reversed key order."""
    d = tmp_path_factory.mktemp("cmp")
    codes = fm_profile.space.sample_codes(N, seed=5)
    keys = [f"arch{i}" for i in range(N)]
    rng = np.random.default_rng(0)
    truth = rng.normal(size=N)
    seeds = truth[:, None] + 0.5 * rng.normal(size=(N, 2))
    gt = {k: {"arch": c, "acc": float(s.mean()), "seeds": {"0": s[0], "1": s[1]}, "n_seeds": 2}
          for k, c, s in zip(keys, codes, seeds)}
    (d / "gt.json").write_text(json.dumps(gt))
    good = truth + 0.2 * rng.normal(size=N)
    bad = truth + 3.0 * rng.normal(size=N)
    _write(d / "good.json", keys, codes, good)
    _write(d / "bad.json", keys, codes, bad)
    _write(d / "good_reversed.json", keys[::-1], codes[::-1], good[::-1])
    return d, keys, codes, good


def _write(path, keys, codes, accs):
    path.write_text(json.dumps({k: {"arch": c, "acc": float(a)} for k, c, a in zip(keys, codes, accs)}))
    return path


def _cli(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "check.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_a_clearly_better_b_clearly_better_identical(setup):
    d, *_ = setup
    ab = compare_files(d / "good.json", d / "bad.json", d / "gt.json", SPACE, boot=300)
    assert ab["verdict"] == "A > B" and ab["n"] == N
    for m in ab["metrics"].values():
        assert m["verdict"] == "A > B" and m["ci"][0] > 0 and m["diff"] == pytest.approx(m["a"] - m["b"])
    ba = compare_files(d / "bad.json", d / "good.json", d / "gt.json", SPACE, boot=300)
    assert ba["verdict"] == "B > A"
    assert ba["metrics"]["kendall_tau"]["ci"] == pytest.approx([-x for x in ab["metrics"]["kendall_tau"]["ci"][::-1]])
    same = compare_files(d / "good.json", d / "good.json", d / "gt.json", SPACE, boot=100)
    assert same["verdict"] == "not resolved"
    assert all(m["diff"] == 0 and m["verdict"] == "not resolved" for m in same["metrics"].values())
    # the GT carries seeds: its noise and the difference it resolves come along
    assert 0 < ab["gt_noise"]["reliability"] <= 1 and ab["gt_noise"]["resolvable_tau_difference"] > 0


def test_joined_by_key_not_order(setup):
    d, *_ = setup
    a = compare_files(d / "good.json", d / "bad.json", d / "gt.json", SPACE, boot=200)
    b = compare_files(d / "good_reversed.json", d / "bad.json", d / "gt.json", SPACE, boot=200)
    assert a["metrics"] == b["metrics"]


def test_subset_lets_a_submission_hold_more_keys(setup, fm_profile):
    d, keys, codes, good = setup
    extra = json.loads((d / "good.json").read_text())
    extra["zz"] = {"arch": fm_profile.space.max_code(), "acc": 0.0}
    (d / "extra.json").write_text(json.dumps(extra))
    with pytest.raises(CandidateError, match="submission A key 'zz' is not in the GT file"):
        compare_files(d / "extra.json", d / "bad.json", d / "gt.json", SPACE, boot=10)
    res = compare_files(d / "extra.json", d / "bad.json", d / "gt.json", SPACE, boot=200, subset=True)
    assert res["metrics"] == compare_files(d / "good.json", d / "bad.json", d / "gt.json", SPACE, boot=200)["metrics"]


def test_cli_text_and_json(setup):
    d, *_ = setup
    r = _cli("compare", d / "good.json", d / "bad.json", "--gt", d / "gt.json", "--boot", "200")
    assert r.returncode == 0, r.stderr
    assert "verdict (board B, Kendall tau): A > B" in r.stdout and "|Pearson|" in r.stdout
    r = _cli("compare", d / "bad.json", d / "good.json", "--gt", d / "gt.json", "--boot", "200", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"] == "B > A"


@pytest.mark.parametrize("case,msg", [
    ("a_missing_key", "GT key 'arch3' is missing from the submission A"),
    ("b_code_differs", "key 'arch2': submission B code"),
    ("a_image_char", "image-size code 2 not in allowed [1]"),
    ("b_broken", "malformed JSON"),
    ("a_constant", "submission A: every joined score is equal"),
    ("b_overflow", "magnitude at most 1e+100, got 1e+308"),
    ("boot0", "--boot must be at least 1"),
    ("no_file", "submission B '"),
])
def test_cli_malformed_inputs_one_line_exit_2(setup, tmp_path, fm_profile, case, msg):
    d, keys, codes, good = setup
    a = json.loads((d / "good.json").read_text())
    b = json.loads((d / "bad.json").read_text())
    b_text, extra = None, []
    if case == "a_missing_key":
        del a["arch3"]
    elif case == "b_code_differs":
        b["arch2"]["arch"] = fm_profile.space.max_code()
    elif case == "a_image_char":
        a["arch1"]["arch"] = "2" + a["arch1"]["arch"][1:]
    elif case == "b_broken":
        b_text = "{"
    elif case == "a_constant":
        for v in a.values():
            v["acc"] = 1.0
    elif case == "b_overflow":
        b["arch0"]["acc"] = 1e308
    elif case == "boot0":
        extra = ["--boot", "0"]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(b_text if b_text is not None else json.dumps(b))
    b_path = tmp_path / ("missing.json" if case == "no_file" else "b.json")
    r = _cli("compare", tmp_path / "a.json", b_path, "--gt", d / "gt.json", "--boot", "20", *extra)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ") and r.stdout == ""
