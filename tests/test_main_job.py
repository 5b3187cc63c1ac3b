"""The README's first command, `bash tools/main.sh`, end to end on a tiny budget."""
import json
import os
import subprocess

from conftest import REPO


def test_main_job_trains_scores_checks_and_reruns(tmp_path):
    from track1.config import load_config
    gt = json.loads((REPO / load_config("main").train.gt).read_text())
    cands = {k: {"arch": v["arch"]} for k, v in gt.items()}
    from track1.profile import Profile
    extra = Profile.from_section((load_config(None)).profile).space.sample_codes(4, seed=1)
    cands.update({f"x{i}": {"arch": c} for i, c in enumerate(extra)})
    (tmp_path / "cands.json").write_text(json.dumps(cands))
    sub, out = tmp_path / "sub.json", tmp_path / "out"
    env = dict(os.environ, SUBMISSION=str(sub), TRACK1_CANDIDATES=str(tmp_path / "cands.json"))
    before = (REPO / "submit/main.json").stat().st_mtime_ns if (REPO / "submit/main.json").exists() else None
    args = ["bash", "tools/main.sh", "train.epochs=0.01", "train.warmup_epochs=0.002", "train.batch_size=32", f"train.out_dir={out}", "train.eval_images=0",
            "score.images=16"]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (out / "supernet.npz").is_file()
    got = json.loads(sub.read_text())
    assert list(got) == list(cands) and all(got[k]["arch"] == cands[k]["arch"] for k in cands)
    assert "Kendall" in r.stdout and "main job: training" in r.stdout
    assert (tmp_path / "sub_check.png").is_file()
    # the user's own submission is not touched
    after = (REPO / "submit/main.json").stat().st_mtime_ns if (REPO / "submit/main.json").exists() else None
    assert before == after
    # a rerun (the default CONFIG named) leaves the finished training alone and gives the same submission
    named = args[:2] + ["main"] + args[2:]
    r2 = subprocess.run(named, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r2.returncode == 0, r2.stdout[-2000:] + r2.stderr[-2000:]
    assert "this run finished at step" in r2.stdout + r2.stderr
    assert json.loads(sub.read_text()) == got
    # a config without a ground truth (imagenet's) runs the job and skips the check, saying so
    r3 = subprocess.run(named + ["train.gt=null"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r3.returncode == 0, r3.stdout[-2000:] + r3.stderr[-2000:]
    assert "names no ground truth (train.gt): check skipped" in r3.stdout and "Kendall" not in r3.stdout
    assert json.loads(sub.read_text()) == got


def test_main_job_refuses_a_stray_argument_before_any_work():
    r = subprocess.run(["bash", "tools/main.sh", "main", "--resume"], cwd=REPO, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and r.stderr == "error: tools/main.sh argument '--resume': expected key=value (CONFIG goes first)\n"
