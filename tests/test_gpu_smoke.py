"""benchmarks/gpu_smoke.sh is how the GPU path gets checked where there is a GPU: here, the
script itself is checked (one line and exit 2 without a GPU; its steps on the CPU)."""
import json
import subprocess
import sys

from conftest import REPO


def test_without_a_gpu_it_says_so_in_one_line():
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_smoke.py")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: gpu_smoke: no GPU") and r.stderr.count("\n") == 1


def test_its_steps_run_and_agree_with_the_cpu_reference(tmp_path):
    out = tmp_path / "smoke.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_smoke.py"), "--check-on-cpu", "--steps", "1",
                        "--batch", "8", "--codes", "3", "--images", "8", "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert set(res["train"]) == {"fp32", "fp16"} and all(t["finite"] and t["loss_scale_resumed"] for t in res["train"].values())
    assert set(res["score"]) == {"batch", "recal"}
    assert all(s["max_rel_diff_vs_cpu_reference"] < 1e-4 for s in res["score"].values())
