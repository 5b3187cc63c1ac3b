"""The GPU path, checked where a GPU is at hand (there is none on the project's machines).

    bash benchmarks/gpu_smoke.sh            (this file: python benchmarks/gpu_smoke.py [--out X.json])

Self-contained, no downloads, a few minutes on one GPU: a synthetic ImageFolder at 224 px
(the imagenet profile, real Track 1 widths); 20 sandwich steps of the dygraph engine with
AMP off and fp16 (per-sub-network backward); 100 codes (the official candidates if the file
is found, else a seeded sample of the space) scored by the batched device scorer in batch
and recal BN modes, 3 of them checked against the CPU reference scorer; step time, peak GPU
memory, images/s, candidates/s and the 45,000-candidate estimate. Without a GPU: one line,
exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--codes", type=int, default=100)
    p.add_argument("--images", type=int, default=256, help="scored images per candidate")
    p.add_argument("--out", default=None)
    p.add_argument("--check-on-cpu", action="store_true",
                   help="run the same steps on the CPU at 32 px (tests the script itself, measures nothing)")
    a = p.parse_args()
    import track1  # noqa: F401  (quiets Paddle before its import)
    import paddle
    from track1.runtime.device import gpu_available
    global DEVICE
    DEVICE = "cpu" if a.check_on_cpu else "gpu"
    if DEVICE == "gpu" and not gpu_available():
        print("error: gpu_smoke: no GPU (Paddle built without CUDA, or none visible): this checks the GPU path only",
              file=sys.stderr)
        sys.exit(2)
    paddle.set_device(DEVICE)
    from track1.config import load_config
    from track1.profile import Profile
    root = Path(tempfile.mkdtemp(prefix="gpu_smoke_"))
    _imagefolder(root, classes=10, per_class={"train": 40, "val": 8})
    size = ["profile.image_size=32"] if a.check_on_cpu else []
    cfg = load_config("imagenet", [f"data.root={root}", "profile.num_classes=10", "data.val_size=200",
                                   "data.workers=2", "sandwich.n_random=2", *size])
    prof = Profile.from_section(cfg.profile)
    out = {"gpu": paddle.device.cuda.get_device_name() if DEVICE == "gpu" else "none (--check-on-cpu)",
           "paddle": paddle.__version__}
    out["train"] = {amp: _train(cfg, prof, amp, a.steps, a.batch) for amp in ("fp32", "fp16")}
    out["score"] = _score(cfg, prof, a.codes, a.images)
    print(json.dumps(out, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    # float32 on the device near the CPU's float32 (cuDNN may use TF32); fp16 within its rounding
    ok = all(r["max_rel_diff_vs_cpu_reference"] < (3e-2 if k.endswith("_fp16") else 1e-2)
             for k, r in out["score"].items()) and all(r["loss_scale_resumed"] for r in out["train"].values())
    sys.exit(0 if ok else 1)


DEVICE = "gpu"


def _peak_mb():
    import paddle
    return round(paddle.device.cuda.max_memory_allocated() / 2 ** 20, 1) if DEVICE == "gpu" else None


def _reset_peak():
    import paddle
    if DEVICE == "gpu":
        paddle.device.cuda.reset_max_memory_allocated()


def _imagefolder(root: Path, classes: int, per_class: dict):
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, n in per_class.items():
        for c in range(classes):
            d = root / split / f"n{c:03d}"
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (240, 256, 3), dtype=np.uint8)).save(d / f"{i}.jpg")


def _train(cfg, prof, amp, steps, batch):
    import paddle
    from track1.data import load_splits
    from track1.models import SuperNet
    from track1.train.engines import DygraphEngine, SupernetTask
    from track1.train.samplers import ArchSampler
    from track1.train.strategies import make_strategy
    paddle.seed(0)
    net = SuperNet(prof)
    task = SupernetTask(lambda: SuperNet(prof), 0.1, net.open_stages)
    eng = DygraphEngine(net, task, {**cfg.train, "amp": amp, "backward": "per_subnet"}, lambda s: 0.01)
    strategy = make_strategy(cfg, ArchSampler(prof.space))        # imagenet's: sandwich
    split = load_splits(cfg.data, prof)["train"]
    rng = np.random.default_rng(0)
    _reset_peak()
    times, losses, reader = [], [], []
    batches = split.batches(batch, rng, drop_last=True, augment=True)
    for i in range(steps + 2):                     # two warm-up steps, not timed
        t0 = time.time()
        try:
            x, y = next(batches)
        except StopIteration:
            batches = split.batches(batch, rng, drop_last=True, augment=True)
            x, y = next(batches)
        t1 = time.time()
        parts = eng.step(strategy.plan(0.5, rng), x, y)
        losses.append(float(parts["loss"]))       # a sync: the step's time includes the GPU's work
        if i >= 2:
            times.append(time.time() - t0)
            reader.append(t1 - t0)
    # A resumed fp16 run continues with the loss scale the interrupted one reached.
    resumed = DygraphEngine(SuperNet(prof), task, {**cfg.train, "amp": amp, "backward": "per_subnet"}, lambda s: 0.01)
    resumed.load_state(eng.state())
    before = eng.scaler.state_dict() if eng.scaler is not None else {}     # (disabled on a CPU: empty)
    same_scale = not before or float(resumed.scaler.state_dict()["scale"][0]) == float(before["scale"][0])
    return {"loss_scale_resumed": bool(same_scale), "step_s": round(float(np.median(times)), 4), "reader_s": round(float(np.median(reader)), 4),
            "images_per_s": round(batch / float(np.median(times)), 1), "loss_first_last": [losses[0], losses[-1]],
            "peak_gpu_mb": _peak_mb(), "finite": bool(np.isfinite(losses).all())}


def _score(cfg, prof, n_codes, n_images):
    import paddle
    from track1.candidates import load_candidates, resolve_path
    from track1.data import load_splits
    from track1.models import SuperNet
    from track1.scoring.batched import BatchedScorer
    from track1.scoring.common import score_images
    from track1.scoring.reference import ReferenceScorer
    path = resolve_path(None, cfg)
    codes = ([c.code for c in load_candidates(path, prof.space)][:n_codes] if path else
             prof.space.sample_codes(n_codes, seed=0))
    splits = load_splits(cfg.data, prof)
    paddle.seed(1)
    state = {k: v.numpy() for k, v in SuperNet(prof).state_dict().items()}
    res = {}
    # fp16 scoring (score.amp) on a GPU only: Paddle's auto_cast does nothing on a CPU
    cases = [("batch", False), ("recal", False)] + ([("batch", True)] if DEVICE == "gpu" else [])
    for bn, amp in cases:
        st = {**cfg.score, "bn": bn, "images": min(n_images, len(splits["val"])), "recal_images": 128, "amp": amp}
        images = score_images(splits, st)
        net = SuperNet(prof)
        net.set_state_dict(state)
        scorer = BatchedScorer(net, images, st)
        scorer.score(codes[:2])                      # warm-up
        _reset_peak()
        t = time.time()
        scores = scorer.score(codes)
        dt = time.time() - t
        paddle.set_device("cpu")
        cpu = SuperNet(prof)
        cpu.set_state_dict(state)
        ref = ReferenceScorer(cpu, images, st).score(codes[:3])
        paddle.set_device(DEVICE)
        rel = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(scores[:3], ref))
        res[bn + ("_fp16" if amp else "")] = {"candidates_per_s": round(len(codes) / dt, 2), "hours_45k_one_gpu": round(45000 / (len(codes) / dt) / 3600, 2),
                   "peak_gpu_mb": _peak_mb(), "max_rel_diff_vs_cpu_reference": rel, "codes": "official" if path else "sampled"}
    return res


if __name__ == "__main__":
    main()
