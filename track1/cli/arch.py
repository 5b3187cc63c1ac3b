"""Describe architecture codes: structure, per-conv channels, projections, MACs and params.

    python tools/arch.py CODE [CODE ...] [--profile fashion_mnist|imagenet|PATH] [--json]
"""
import argparse
import json

from .common import entry



def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("codes", nargs="+", help="52-char (official) or 51-char (rules) codes")
    p.add_argument("--profile", default=None, help="config name or path (default: fashion_mnist)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = p.parse_args()
    from track1.config import load_config
    from track1.profile import Profile
    prof = Profile.from_section(load_config(args.profile).profile)
    for code in args.codes:
        d = prof.describe(code)
        if args.json:
            print(json.dumps(d))
            continue
        print(f"{d['arch']}  [{prof.name}]  MACs {d['macs']:,}  params {d['params']:,}")
        print(f"  depths {'-'.join(map(str, d['depths']))}, stem {d['stem']} channels")
        for s, blocks in enumerate(d["stages"]):
            convs = ", ".join(f"{b['cin']}->{b['mid']}->{b['cout']}" + (" +proj" if b["proj"] else "")
                              + (f" /{b['stride']}" if b["stride"] != 1 else "") for b in blocks)
            print(f"  stage {s + 1}: {convs}")


entry_point = entry(main)
