"""NAR's ranking on held-out labelled codes: repeated seeded splits at several training sizes."""
from __future__ import annotations

import numpy as np

from ..metrics import kendall
from .fit import NARError, fit
from .model import predict


def cross_validate(ncfg, profile, codes, accs, folds: int, train_fracs, compare=None) -> list:
    """For each training fraction: `folds` seeded random splits, NAR trained on the fraction
    and tested on the rest; Kendall tau of NAR and of MACs on the same held-out codes, and of
    every `compare` scorer ({name: {code: score}}, e.g. the supernet or a proxy)."""
    codes, accs = list(codes), np.asarray(accs, np.float64)
    compare = compare or {}
    for name, sc in compare.items():
        missing = [c for c in codes if c not in sc]
        if missing:
            raise NARError(f"compare '{name}': no score for labelled code {missing[0]}")
    rng = np.random.default_rng(ncfg["seed"])
    rows = []
    for frac in train_fracs:
        taus, macs_taus, other = [], [], {name: [] for name in compare}
        for f in range(folds):
            perm = rng.permutation(len(codes))
            n_tr = max(2 * ncfg["tiers"], int(round(frac * len(codes))))
            tr, te = perm[:n_tr], perm[n_tr:]
            if len(te) < 3:
                continue
            model, _ = fit(dict(ncfg, seed=ncfg["seed"] + f), profile, [codes[i] for i in tr], accs[tr],
                           progress=False)
            pred = predict(model, profile, [codes[i] for i in te])
            taus.append(kendall(pred, accs[te]))
            macs_taus.append(kendall([profile.macs(codes[i]) for i in te], accs[te]))
            for name, sc in compare.items():
                other[name].append(kendall([sc[codes[i]] for i in te], accs[te]))
        rows.append({"train_frac": frac, "n_train": n_tr, "n_test": len(codes) - n_tr, "folds": len(taus),
                     "nar_tau": float(np.mean(taus)) if taus else None,
                     "nar_tau_sd": float(np.std(taus)) if taus else None,
                     "macs_tau": float(np.mean(macs_taus)) if macs_taus else None,
                     **{f"{name}_tau": float(np.mean(v)) if v else None for name, v in other.items()}})
    return rows
