"""Export a trained supernet, or one sub-network as its stand-alone model, as `.pdparams`.

    python tools/export.py --checkpoint output/main --out supernet.pdparams [--layout track1|ofa|ofa_dp]
    python tools/export.py --checkpoint output/main --code CODE --out subnet.pdparams

The supernet in the official layouts (`ofa`: the Track 1 demo's OFA checkpoint; `ofa_dp`:
the same saved from multi-GPU training) or track1's own (= the official stand-alone
model's names); a sub-network with the keys of the official `Model(arch)` for its code.
`paddle.load` reads every file back. The checkpoint is validated first.
"""
import argparse

from .common import entry


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="training output folder (holds supernet.npz)")
    p.add_argument("--out", required=True, help="the .pdparams to write")
    p.add_argument("--code", default=None, help="export this sub-network as its stand-alone model")
    p.add_argument("--layout", default="track1", choices=["track1", "ofa", "ofa_dp"],
                   help="key layout of an exported supernet")
    a = p.parse_args()
    from track1.interop import export_subnet, export_supernet
    from track1.io_utils import check_output_path
    from track1.scoring.trained import load_trained
    check_output_path(a.out, "--out")
    trained = load_trained(a.checkpoint)
    net = trained.network()
    if a.code:
        path = export_subnet(net, trained.profile.space.canonical(a.code), a.out)
        print(f"sub-network {a.code} ({trained.profile.name}) -> {path}")
    else:
        path = export_supernet(net, a.out, a.layout)
        print(f"supernet ({trained.profile.name}, layout {a.layout}) -> {path}")


entry_point = entry(main)
