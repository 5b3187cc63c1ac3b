"""A GT file from results lines, and the manifest that says what it is made of."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

from ..candidates import CandidateError
from .summary import load_runs, machines, to_gt


def manifest(runs_path, gt_path, metric: str, runs, gt, protocol: dict) -> dict:
    """What the GT file is made of: protocol, seeds, selection rule, code version, date."""
    sel = Path(runs_path).with_name("selection.json")
    seeds = sorted({r["seed"] for r in runs})
    kept = [r for r in runs if "diverged" not in r]     # the runs behind gt.json
    return {"gt": Path(gt_path).name, "runs": Path(runs_path).name, "metric": metric,
            "n_codes": len(gt), "n_runs": len(runs), "seeds": seeds,
            "codes_per_seed": {str(s): sum(r["seed"] == s and "diverged" not in r for r in runs) for s in seeds},
            "diverged": sum("diverged" in r for r in runs),
            "protocol_hash": runs[0].get("protocol"),
            "protocol": dict(protocol),
            "code_versions": sorted({r.get("code_version", "?") for r in runs}),
            # A run's value depends on the kernels oneDNN dispatches on its CPU (AVX2 or AVX-512;
            # BENCHMARKS.md, "Runs on several machines"): the CPUs, most runs first, and their counts.
            "cpus": [cpu for cpu, _ in machines(kept)],
            "runs_per_cpu": dict(machines(kept)),
            "selection": json.loads(sel.read_text())["rule"] if sel.is_file() else None,
            "date": datetime.date.today().isoformat()}


def write_gt(runs_path, out, cfg, metric: str = "acc", warn=lambda msg: None) -> str:
    """Results file -> official-format GT `out` (`to_gt`) + manifest.json beside it, after
    checking that the config given is the one the runs were trained under (the manifest
    records its protocol). Returns the line to print."""
    from ..io_utils import atomic_write_json
    from ..standalone.protocol import protocol_hash
    runs = load_runs(runs_path, warn)
    mine = protocol_hash(cfg)
    if runs[0].get("protocol") != mine:
        raise CandidateError(f"'{runs_path}' was trained under protocol {runs[0].get('protocol')}, the config given "
                             f"here has {mine}: pass the --config/--set it was trained with (the manifest records it)")
    gt = to_gt(runs, metric)
    atomic_write_json(out, gt, indent=1)
    path = Path(out).with_name("manifest.json")
    atomic_write_json(path, manifest(runs_path, out, metric, runs, gt, cfg["standalone"]), indent=1)
    return f"{len(gt)} codes -> {out} (+ {path.name})"
