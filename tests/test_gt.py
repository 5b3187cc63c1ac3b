import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest
from scipy import stats

from track1.config import load_config
from track1.data import load_splits
from track1.gt.runner import ProtocolMismatch, finished_pairs
from track1.gt.select import select_codes
from track1.gt.summary import summarize, to_gt
from track1.io_utils import append_line, read_jsonl
from track1.metrics import tau_ceiling
from track1.models.standalone import StandaloneNet
from track1.profile import Profile
from track1.runtime.optim import lr_at
from track1.standalone.predictions import decode_labels, disagreement, encode_labels, flip_average
from track1.standalone.protocol import protocol_hash
from track1.standalone.trainer import TailAverage, _engine
from track1.standalone.trainer import train_one as _train_one
from track1.runtime.inference import evaluate
from track1.train.strategies import StepPlan

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["standalone.train_images=512", "standalone.epochs=2", "standalone.warmup_epochs=0.5",
        "standalone.batch_size=64", "standalone.bn_recalib_images=128", "standalone.eval_images=256",
        "standalone.eval_batch_size=128"]
CODE = "1222233333000000333300000055550000000000007777000000"


def train_one(cfg, code, seed, splits, **kw):
    return _train_one(cfg.standalone, cfg.data, Profile.from_section(cfg.profile), code, seed, splits, **kw)


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config(None, TINY)
    return cfg, load_splits(cfg.data, cfg.profile)


def test_lr_schedule():
    assert lr_at(0, 100, 10, 0.1, "cosine") == pytest.approx(0.01)
    assert lr_at(9, 100, 10, 0.1, "cosine") == pytest.approx(0.1)
    assert lr_at(10, 100, 10, 0.1, "cosine") == pytest.approx(0.1)
    assert lr_at(55, 100, 10, 0.1, "cosine") == pytest.approx(0.05)
    assert lr_at(99, 100, 10, 0.1, "cosine") < 0.001
    assert lr_at(50, 100, 0, 0.1, "constant") == 0.1


def test_step_budget_is_full_batches_rounded_and_refuses_a_batch_above_the_images():
    from track1.runtime.optim import step_budget
    from track1.train.loop import TrainError
    assert step_budget(55000, 128, 2.73, 0.25, "standalone") == (429, 1171, 107)
    assert step_budget(100, 128 // 2, 0.01, 0.0, "train") == (1, 1, 0)        # at least one step
    with pytest.raises(TrainError, match="train.batch_size 256 exceeds the 100 training images"):
        step_budget(100, 256, 1, 0, "train", TrainError)


def test_static_and_dygraph_losses_match_step_by_step(tiny):
    cfg, splits = tiny
    prof_make = lambda: (paddle.seed(3), StandaloneNet(Profile.from_section(cfg.profile), CODE, True))[1]  # noqa: E731
    batches = list(splits["train"].batches(32, np.random.default_rng(0), limit=128))
    losses = {}
    st = {"momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "label_smoothing": 0.1}
    plan = StepPlan([CODE], ["label"])
    for backend in ("static", "dygraph"):
        engine, model = _engine(backend, prof_make, [32, 1, 28, 28], st, lambda s: 0.05)
        losses[backend] = [engine.step(plan, x, y)["loss"] for x, y in batches]
        model.recalibrate_bn(x for x, _ in batches)
        losses[backend + "_eval"] = evaluate(model, splits["val"].batches(128, limit=256))["loss"]
    np.testing.assert_allclose(losses["static"], losses["dygraph"], rtol=2e-4)
    assert losses["static"][-1] < losses["static"][0]
    assert losses["static_eval"] == pytest.approx(losses["dygraph_eval"], rel=1e-3)


def test_train_one_record_and_determinism(tiny):
    cfg, splits = tiny
    a = train_one(cfg, CODE, 0, splits)
    b = train_one(cfg, CODE, 0, splits)
    for k in ("arch", "seed", "acc", "test_loss", "train_loss", "macs", "params", "steps", "backend"):
        assert k in a
    assert a["acc"] == b["acc"] and a["test_loss"] == b["test_loss"]
    assert a["acc"] > 0.2          # well above 10% chance after 16 steps
    c = train_one(cfg, CODE, 1, splits)
    assert c["train_loss"] != a["train_loss"]


def test_a_run_records_the_cpu_time_between_its_start_and_its_record(tiny, monkeypatch):
    # A fake process clock: 100.0 at the start, 107.3 from then on; cpu_s is their difference.
    import track1.standalone.trainer as trainer
    ticks = iter([100.0])
    monkeypatch.setattr(trainer.time, "process_time", lambda: next(ticks, 107.3))
    cfg, splits = tiny
    assert train_one(cfg, CODE, 0, splits, max_steps=2)["cpu_s"] == 7.3


def test_faults_keeps_the_runners_measured_fields(monkeypatch):
    # benchmarks/faults.py imports no track1, so it holds a copy of runner.MEASURED.
    import importlib.util
    from track1.gt.runner import MEASURED
    spec = importlib.util.spec_from_file_location("faults", os.path.join(REPO, "benchmarks", "faults.py"))
    faults = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "faults", faults)      # its dataclasses look themselves up there
    spec.loader.exec_module(faults)
    assert faults.GT_TIMING == set(MEASURED)


def test_curve_does_not_change_the_result(tiny):
    cfg, splits = tiny
    a = train_one(cfg, CODE, 0, splits, max_steps=10)
    b = train_one(cfg, CODE, 0, splits, max_steps=10, curve=True)
    assert len(b["curve"]) == 2 and (a["acc"], a["test_loss"]) == (b["acc"], b["test_loss"])


def test_averaging_flip_and_predictions_leave_the_last_iterate_alone(tiny):
    _, splits = tiny
    cfg = load_config(None, TINY + ["standalone.average_from=0"])
    plain = train_one(cfg, CODE, 0, splits)
    cfg_avg = load_config(None, TINY + ["standalone.average_from=0.5"])
    both = train_one(cfg_avg, CODE, 0, splits, predictions=True)
    for k in ("acc", "test_loss", "train_loss", "acc_flip", "test_loss_flip", "steps"):
        assert both[k] == plain[k], k
    assert "acc_avg" not in plain and "pred" not in plain
    assert both["avg_steps"] == plain["steps"] - round(0.5 * plain["steps"])
    assert (both["acc_avg"], both["test_loss_avg"]) != (both["acc"], both["test_loss"])
    labels = splits["test"].labels[:256]
    assert (decode_labels(both["pred"]) == labels).mean() == both["acc"]
    assert (decode_labels(both["pred_avg"]) == labels).mean() == both["acc_avg"]
    assert protocol_hash(cfg_avg) != protocol_hash(cfg)


def test_default_protocol_is_still_the_committed_gts():
    # New protocol keys at their neutral values must not move the identity of the runs the
    # default GT was built from (else a build could not span the change), and the default
    # stand-alone protocol is the default GT's: a user's own runs join it.
    cfg = load_config("fashion_mnist")
    manifest = json.loads(open(os.path.join(REPO, os.path.dirname(cfg.train.gt), "manifest.json")).read())
    assert protocol_hash(cfg) == manifest["protocol_hash"]
    # v1's protocol is the default with averaging off (the key's neutral value)
    v1 = json.loads(open(os.path.join(REPO, "benchmarks/gt/fashion_mnist/manifest.json")).read())
    assert protocol_hash(load_config("fashion_mnist", ["standalone.average_from=0"])) == v1["protocol_hash"]


def test_tail_average_is_the_uniform_mean_after_its_start():
    class Clf:
        w = 0.0

        def get_state(self):
            return {"w": np.array([self.w], np.float32)}
    avg, clf = TailAverage(start=2), Clf()
    for step in range(1, 6):
        clf.w = float(step)
        avg.add(step, clf)
    assert avg.count == 3 and avg.state()["w"][0] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="no step"):
        TailAverage(start=9).state()


def test_flip_average_and_label_codec():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(50, 10)), rng.integers(0, 10, 50)
    same = flip_average(logits, logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert same["acc"] == (logits.argmax(1) == labels).mean()
    assert same["loss"] == pytest.approx(-np.log(p[np.arange(50), labels]).mean())
    # The mirror's vote counts: logits that favour the label on the flipped image fix errors.
    boost = logits.copy()
    boost[np.arange(50), labels] += 100
    assert flip_average(logits, boost, labels)["acc"] == 1.0
    for a in (labels, np.array([0, 999, 5, 70000 % 1000]), np.zeros(0, int)):
        assert np.array_equal(decode_labels(encode_labels(a)), a)
    assert disagreement(encode_labels([1, 2, 3, 4]), encode_labels([1, 2, 0, 0])) == 0.5
    with pytest.raises(ValueError, match="not an encoded"):
        decode_labels("xx")


def test_a_pair_asked_twice_runs_once_and_a_diverged_run_is_recorded(tmp_path, monkeypatch):
    import track1.gt.runner as runner

    def fake_train(st, data, profile, code, seed, splits, curve=False, on_step=None, predictions=False,
                   weights_out=None):
        if seed == 1:
            raise FloatingPointError(f"arch {code} seed {seed}: loss became nan at step 2")
        return {"arch": code, "seed": seed, "acc": 0.5, "test_loss": 1.0, "wall_s": 0.1, "macs": 1, "params": 1}

    monkeypatch.setattr("track1.standalone.trainer.train_one", fake_train)
    cfg = load_config(None)
    for k, v in (("st", cfg.standalone), ("data", cfg.data), ("profile", Profile.from_section(cfg.profile)),
                 ("splits", None)):
        monkeypatch.setitem(runner._WORKER, k, v)
    monkeypatch.setitem(runner._WORKER, "parent", os.getppid())
    monkeypatch.setattr(runner, "recycled_imap_unordered", _inline_pool)
    out = tmp_path / "r.jsonl"
    cfg = load_config(None)
    prof = Profile.from_section(cfg.profile)
    runner.run_all(cfg, prof, [("a1", CODE, 0), ("a2", CODE, 0), ("a1", CODE, 1)], out, log=lambda m: None)
    rows = read_jsonl(out)
    assert [(r["key"], r["seed"]) for r in rows] == [("a1", 0), ("a1", 1)]
    assert "diverged" in rows[1] and rows[1]["macs"] > 0
    assert runner.run_all(cfg, prof, [("a1", CODE, 1)], out, log=lambda m: None)["ran"] == 0   # resumes past it
    assert summarize(rows)["n_diverged"] == 1 and len(to_gt(rows)) == 1


def _inline_pool(jobs, init, args, fn, tasks, tasks_per_worker, threads=None):
    """recycled_imap_unordered's interface, run in this process (no spawn, so monkeypatches hold)."""
    return (fn(t) for t in tasks)


def test_protocol_hash_tracks_protocol_not_speed_settings():
    base = protocol_hash(load_config(None, TINY))
    assert protocol_hash(load_config(None, TINY + ["standalone.threads=2", "standalone.backend=dygraph"])) == base
    assert protocol_hash(load_config(None, TINY + ["standalone.lr=0.2"])) != base
    assert protocol_hash(load_config(None, TINY + ["profile.base_channels=[16,20,24,40]"])) != base


def test_results_file_refuses_foreign_protocol(tmp_path):
    p = tmp_path / "r.jsonl"
    append_line(p, json.dumps({"arch": CODE, "seed": 0, "protocol": "aaa"}))
    assert finished_pairs(p, "aaa") == {(CODE, 0)}
    with pytest.raises(ProtocolMismatch, match="protocols never mix"):
        finished_pairs(p, "bbb")


def test_torn_line_is_dropped_and_repaired(tmp_path):
    p = tmp_path / "r.jsonl"
    append_line(p, json.dumps({"a": 1}))
    with open(p, "a") as f:
        f.write('{"a": 2, "b"')
    assert read_jsonl(p) == [{"a": 1}]
    read_jsonl(p, repair=True)
    assert p.read_text() == '{"a": 1}\n'


def test_selection_reproducible_and_stratified(fm_profile):
    codes = fm_profile.space.sample_codes(600, seed=1)
    kc = [(f"arch{i}", c) for i, c in enumerate(codes, 1)]
    a = select_codes(kc, fm_profile, n=30, repeats=6, seed=0)
    assert a == select_codes(kc, fm_profile, n=30, repeats=6, seed=0)
    assert a != select_codes(kc, fm_profile, n=30, repeats=6, seed=1)
    macs = sorted(fm_profile.macs(c) for c in codes)
    chosen = sorted(m for _, _, m in a["codes"])
    assert chosen[0] <= macs[len(macs) // 30] and chosen[-1] >= macs[-len(macs) // 30]
    assert len(set(a["repeat_keys"])) == 6
    depths3 = {fm_profile.space.parse(c).depths[2] for _, c, _ in a["codes"]}
    assert depths3 == set(range(2, 9))


def test_runs_to_gt_and_summary():
    runs = []
    rng = np.random.default_rng(0)
    for i in range(6):
        code = f"c{i}"
        for s in (0, 1) if i < 4 else (0,):
            runs.append({"key": f"arch{10 - i}", "arch": code, "seed": s, "acc": 0.8 + 0.01 * i + 0.001 * rng.random(),
                         "test_loss": 0.5 - 0.01 * i, "macs": 100 + i, "params": 10 + i, "wall_s": 1.0})
    gt = to_gt(runs)
    assert list(gt)[0] == "arch10" and gt["arch10"]["n_seeds"] == 2
    assert gt["arch10"]["acc"] == pytest.approx(np.mean([r["acc"] for r in runs if r["arch"] == "c0"]))
    s = summarize(runs)
    assert s["acc"]["n_codes"] == 6 and s["acc"]["n_repeated"] == 4
    assert s["acc"]["seed_tau"] == pytest.approx(1.0) and s["acc"]["tau_macs"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="carry no candidate key"):
        to_gt([{**runs[0], "key": None}])
    with pytest.raises(ValueError, match="key 'arch10' names two codes, c0 and c9"):
        to_gt(runs + [{**runs[-1], "arch": "c9", "macs": 200, "key": "arch10"}])     # another file's arch10


def test_power_at_budget_trades_codes_for_reliability():
    """A budget buys codes at the runs' mean cost (40% of them run twice); each metric's GT
    reliability follows its ICC; the more reliable metric resolves a smaller tau difference,
    and so does a cheaper protocol of the same ICC (more codes)."""
    from track1.gt.summary import POWER_REPEATED, power_at_budget
    from track1.metrics import gt_reliability, resolvable_difference
    rng = np.random.default_rng(3)
    truth = rng.normal(0, 1, 30)

    def runs(noise, wall):
        return [{"arch": f"c{i}", "seed": s, "acc": 0.8 + 0.01 * truth[i] + noise * rng.normal(),
                 "test_loss": 0.3 - 0.01 * truth[i] + 0.2 * noise * rng.normal(), "macs": 100 + i,
                 "params": 10 + (i * 7) % 30, "wall_s": wall} for i in range(30) for s in (0, 1)]
    dear = summarize(runs(0.01, 720.0), n_boot=50)
    p = power_at_budget(dear, 10.0)["metrics"]
    n = int(10 * 3600 / (720 * (1 + POWER_REPEATED)))
    assert p["acc"]["n_codes"] == p["test_loss"]["n_codes"] == n == 35
    k = [2] * round(POWER_REPEATED * n) + [1] * (n - round(POWER_REPEATED * n))
    assert p["acc"]["reliability"] == pytest.approx(gt_reliability(dear["acc"]["icc"], k))
    assert p["acc"]["resolvable"] == pytest.approx(resolvable_difference(n, p["acc"]["reliability"], 0.5))
    assert dear["test_loss"]["icc"] > dear["acc"]["icc"] and p["test_loss"]["resolvable"] < p["acc"]["resolvable"]
    cheap = {**dear, "wall_s_mean": 180.0}
    assert power_at_budget(cheap, 10.0)["metrics"]["acc"]["n_codes"] == int(10 * 3600 / (180 * (1 + POWER_REPEATED)))
    assert power_at_budget(cheap, 10.0)["metrics"]["acc"]["resolvable"] < p["acc"]["resolvable"]
    with pytest.raises(ValueError, match="no wall time"):
        power_at_budget({**dear, "wall_s_mean": None}, 10.0)
    assert power_at_budget({**dear, "wall_s_mean": None}, 10.0, run_seconds=180.0) == power_at_budget(cheap, 10.0)
    assert power_at_budget(dear, 10.0)["run_seconds"] == 720.0
    with pytest.raises(ValueError, match="--run-seconds must be positive"):
        power_at_budget(dear, 10.0, run_seconds=0)


def test_summary_of_only_the_codes_of_a_file(tmp_path, fm_profile):
    """--codes: two protocols' files compared on the same codes; a file sharing no code with
    the runs is one clear error."""
    from track1.gt.summary import summary_file
    codes = fm_profile.space.sample_codes(8, seed=2)
    runs = tmp_path / "runs.jsonl"
    runs.write_text("".join(json.dumps({"arch": c, "seed": s, "acc": 0.8 + 0.01 * i + 0.001 * s, "test_loss": 0.3, "macs": 10 + i,
                                        "params": 5 + i, "wall_s": 1.0}) + "\n"
                            for i, c in enumerate(codes) for s in (0, 1)))
    keep = tmp_path / "keep.json"
    keep.write_text(json.dumps({f"arch{i}": {"arch": c} for i, c in enumerate(codes[:5])}))
    s = summary_file(runs, n_boot=20, codes=keep)
    assert s["n_runs"] == 10 and s["acc"]["n_codes"] == 5 and s["codes_file"] == str(keep)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"arch1": {"arch": fm_profile.space.sample_codes(1, seed=99)[0]}}))
    with pytest.raises(ValueError, match="holds no run of the codes"):
        summary_file(runs, n_boot=20, codes=other)


def test_tau_ceiling_matches_simulation():
    # Noise-free values vs the mean of k noisy runs: the formula's tau is what sampling gives.
    rng = np.random.default_rng(0)
    icc_true = 0.3
    truth = rng.normal(0, np.sqrt(icc_true), 20000)
    for k in (1, 2):
        runs = truth[:, None] + rng.normal(0, np.sqrt(1 - icc_true), (truth.size, k))
        assert tau_ceiling(icc_true, k) == pytest.approx(stats.kendalltau(truth, runs.mean(1)).statistic, abs=0.01)
    # A GT of mixed seed counts: half the codes one run, half the mean of two.
    k = np.where(np.arange(truth.size) % 2 == 0, 1, 2)
    noise = rng.normal(0, np.sqrt(1 - icc_true), truth.size) / np.sqrt(k)
    assert tau_ceiling(icc_true, k) == pytest.approx(stats.kendalltau(truth, truth + noise).statistic, abs=0.01)
    assert tau_ceiling(1.0, 1) == pytest.approx(1.0) and tau_ceiling(-0.1, 2) == 0.0
    assert tau_ceiling(0.3, 2) > tau_ceiling(0.3, [1, 2]) > tau_ceiling(0.3, 1)


def _tool(*args, log=None, **kw):
    # Output to a file, never an unread pipe: a full pipe would stall the tool.
    out = open(log, "w") if log else subprocess.PIPE
    return subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "train_standalone.py"), *args],
                            stdout=out, stderr=out if log else subprocess.PIPE, text=True, **kw)


def test_cli_resume_after_kill(tmp_path):
    out = tmp_path / "runs.jsonl"
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps({"arch5": {"arch": CODE}, "arch9": {"arch": CODE[:42] + "6" + CODE[43:]}}))
    sets = [a for o in TINY for a in ("--set", o)]
    args = ["--codes", str(codes), "--seeds", "0", "1", "--out", str(out), *sets]
    p = _tool(*args, log=tmp_path / "log1.txt", start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(read_jsonl(out)) < 1:
        assert p.poll() is None, (tmp_path / "log1.txt").read_text()[-2000:]
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGKILL)          # parent and workers, mid-run
    p.wait()
    first = read_jsonl(out)
    assert 1 <= len(first) < 4
    p = _tool(*args)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    runs = read_jsonl(out)
    pairs = [(r["arch"], r["seed"]) for r in runs]
    assert len(runs) == 4 and len(set(pairs)) == 4
    assert runs[:len(first)] == first
    assert {r["key"] for r in runs} == {"arch5", "arch9"}
    from track1.version import host_cpu
    assert {r["cpu"] for r in runs} == {host_cpu()} and "cpus" in host_cpu()     # where each was computed
    assert {r["threads"] for r in runs} == {load_config(None).standalone["threads"]}
    assert out.read_text().endswith("\n")
    # a changed protocol is refused, nothing written
    p = _tool(*args, "--set", "standalone.lr=0.3")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 2 and "protocols never mix" in err and len(read_jsonl(out)) == 4


def test_cli_bad_code_one_line(tmp_path):
    p = _tool("--codes", CODE[:-1] + "9", "--out", str(tmp_path / "x.jsonl"))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and err.strip().count("\n") == 0 and "position 51" in err
    assert not (tmp_path / "x.jsonl").exists()


def test_cli_to_gt_writes_gt_and_manifest(tmp_path):
    runs = tmp_path / "runs.jsonl"
    proto = protocol_hash(load_config(None))
    rows = [{"key": f"arch{i + 1}", "arch": c, "seed": s, "acc": 0.8 + 0.01 * i + 0.001 * s, "test_loss": 0.4,
             "macs": 10 + i, "params": 5, "wall_s": 1.0, "protocol": proto, "code_version": "v"}
            for i, c in enumerate([CODE, "1558511111111111111111111111111111111111111111111111"]) for s in (0, 1)]
    diverged = {"key": "arch3", "arch": CODE[:6] + "2" + CODE[7:], "seed": 0, "macs": 9, "params": 5,
                "diverged": "loss became nan at step 3", "protocol": proto}
    rows[1]["cpu"] = "AMD EPYC, avx2, 2 cpus"
    runs.write_text("".join(json.dumps(r) + "\n" for r in rows[:3] + [diverged]))
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), "to-gt", str(runs),
                        "--out", str(tmp_path / "gt.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    gt = json.loads((tmp_path / "gt.json").read_text())
    assert gt["arch1"]["n_seeds"] == 2 and gt["arch2"]["n_seeds"] == 1
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["n_codes"] == 2 and m["n_runs"] == 4 and m["seeds"] == [0, 1] and m["diverged"] == 1
    assert m["codes_per_seed"] == {"0": 2, "1": 1} and m["protocol_hash"] == proto
    assert m["protocol"]["epochs"] > 0 and m["date"] and m["cpus"] == ["not recorded", "AMD EPYC, avx2, 2 cpus"]
    assert m["runs_per_cpu"] == {"not recorded": 2, "AMD EPYC, avx2, 2 cpus": 1}     # of the 3 behind gt.json
    # the manifest must describe the runs' protocol: another config is refused by name
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), "to-gt", str(runs), "--out",
                        str(tmp_path / "gt2.json"), "--set", "standalone.epochs=1"], capture_output=True, text=True)
    assert r.returncode == 2 and f"trained under protocol {proto}" in r.stderr and not (tmp_path / "gt2.json").exists()
    # a loss GT keeps "acc" higher-is-better: the negated mean test loss
    runs.write_text("".join(json.dumps({**r, "test_loss": 0.5 - r["acc"]}) + "\n" for r in rows))
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), "to-gt", str(runs), "--out",
                        str(tmp_path / "gtl.json"), "--metric", "test_loss"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    gtl = json.loads((tmp_path / "gtl.json").read_text())
    assert gtl["arch1"]["acc"] == pytest.approx(gt["arch1"]["acc"] - 0.5) and gtl["arch1"]["acc"] < gtl["arch2"]["acc"]
    # a runs file that is not one: one line, exit 2
    (tmp_path / "bad.jsonl").write_text(json.dumps({"arch": CODE, "seed": 0, "acc": 0.5}) + "\n")
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), "summary", str(tmp_path / "bad.jsonl")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "line 1: not a result line" in r.stderr and "(no 'macs')" in r.stderr


def test_export_order_spreads_over_macs(tmp_path):
    sel = {"rule": "r", "codes": {f"arch{i}": {"arch": CODE, "macs": 1000 - i, "repeat": i < 2} for i in range(32)}}
    (tmp_path / "sel.json").write_text(json.dumps(sel))
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), "export", str(tmp_path / "sel.json"),
                        "--which", "single", "--out", str(tmp_path / "s.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    macs = [sel["codes"][k]["macs"] for k in json.loads((tmp_path / "s.json").read_text())]
    assert sorted(macs) == sorted(1000 - i for i in range(2, 32))
    lo, hi = min(macs), max(macs)
    for n in (4, 8, 16):      # every prefix reaches both ends of the range
        q = np.array(macs[:n])
        assert q.min() - lo <= (hi - lo) / n + 1 and hi - q.max() <= 2 * (hi - lo) / n + 1
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gt.py"), "export", str(tmp_path / "none.json"),
                        "--out", str(tmp_path / "x.json")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.json" in r.stderr


def test_gt_path_is_the_configs_train_gt_and_none_is_one_line():
    """Every benchmark script takes its default GT from `tools/gt.py path`: the config's
    train.gt, resolved against the checkout."""
    from track1.config import REPO
    gt = os.path.join(REPO, "tools", "gt.py")
    r = subprocess.run([sys.executable, gt, "path"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == str(REPO / load_config(None).train.gt)
    r = subprocess.run([sys.executable, gt, "path", "--set", "train.gt=/elsewhere/gt.json"], capture_output=True,
                       text=True, timeout=60)
    assert r.stdout.strip() == "/elsewhere/gt.json"
    r = subprocess.run([sys.executable, gt, "path", "--set", "train.gt=null"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "train.gt" in r.stderr


def test_the_imagenet_protocol_trains_a_code_stand_alone_on_its_augmented_images(tmp_path):
    """imagenet's stand-alone protocol (random-resized crops and flips, the ImageFolder
    loader) at a tiny size on the CPU's static backend: it trains, evaluates on the val
    folder, and two runs of one seed agree (the crops are seeded by position)."""
    from conftest import make_imagefolder
    root = make_imagefolder(tmp_path / "imnet", {"train": 4, "val": 2})
    cfg = load_config("imagenet", [f"data.root={root}", "profile.num_classes=3", "profile.image_size=32",
                                   "data.val_size=3", "data.workers=0", "standalone.train_images=8",
                                   "standalone.batch_size=4", "standalone.epochs=1", "standalone.warmup_epochs=0",
                                   "standalone.bn_recalib_images=4", "standalone.eval_images=6",
                                   "standalone.eval_batch_size=3", "standalone.average_from=0.5",
                                   "standalone.threads=1"])
    assert cfg.standalone.augment
    splits = load_splits(cfg.data, cfg.profile)
    code = Profile.from_section(cfg.profile).space.min_code()
    a, b = (train_one(cfg, code, 0, splits) for _ in range(2))
    assert a["backend"] == "static" and a["steps"] == 2 and a["avg_steps"] == 1
    assert np.isfinite([a["test_loss"], a["test_loss_avg"], a["train_loss"]]).all()
    assert (a["acc"], a["test_loss"], a["train_loss"]) == (b["acc"], b["test_loss"], b["train_loss"])
