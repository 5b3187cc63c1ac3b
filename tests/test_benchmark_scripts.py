"""The benchmark scripts' own contracts: a bad argument is one line and exit 2 before any
compute, and an ISA arm runs under the setting its name says, whatever the caller's env."""
import json
import os
import subprocess

import pytest

from conftest import REPO
from track1.config import load_config
from track1.profile import Profile


def bash(*args, env=None, timeout=120):
    return subprocess.run(["bash", *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, message", [
    (["benchmarks/teacher_cost.sh", "5", "1", "flops"], "error: TEACHER 'flops'"),
    (["benchmarks/teacher_cost.sh", "5", "0"], "error: REPEATS must be at least 1"),
    (["benchmarks/isa_cost.sh", "8192", "0"], "error: REPEATS must be at least 1"),
    (["benchmarks/isa_arm.sh", "AVX2", "out.jsonl"], "error: SETTING 'AVX2'"),
    (["benchmarks/isa_arm.sh", "default"], "usage: bash benchmarks/isa_arm.sh"),
])
def test_a_bad_argument_is_one_line_and_exit_2(args, message):
    r = bash(*args)
    assert r.returncode == 2 and r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == ""


def test_an_unknown_ranking_variant_is_refused_before_any_training():
    r = bash("benchmarks/rank_strategies.sh", "0", env={"VARIANTS": "rdnas no_such_variant"})
    assert r.returncode == 2 and "unknown variant 'no_such_variant'" in r.stderr and r.stderr.count("\n") == 1


# The smallest stand-alone run that still writes a record (about 15 s).
TINY = ["--set", "standalone.train_images=128", "--set", "standalone.epochs=1", "--set", "standalone.warmup_epochs=0.5",
        "--set", "standalone.batch_size=64", "--set", "standalone.bn_recalib_images=64", "--set",
        "standalone.eval_images=64", "--set", "standalone.eval_batch_size=64", "--set", "standalone.average_from=0"]


def test_an_isa_arm_drops_the_callers_cap_and_applies_its_own(tmp_path):
    code = Profile.from_section(load_config(None).profile).space.min_code()
    cpus = {}
    for setting in ("default", "ONEDNN_MAX_CPU_ISA=AVX2"):
        out = tmp_path / f"{setting}.jsonl"
        r = bash("benchmarks/isa_arm.sh", setting, out, *TINY, "--codes", code, "--seeds", "0",
                 env={"ONEDNN_MAX_CPU_ISA": "SSE41"}, timeout=600)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        rec = json.loads(out.read_text().splitlines()[0])
        cpus[setting] = rec["cpu"]
        assert rec["threads"] == 1
    assert "oneDNN capped" not in cpus["default"]                     # the caller's SSE41 did not leak in
    assert cpus["ONEDNN_MAX_CPU_ISA=AVX2"].endswith("oneDNN capped at AVX2")
