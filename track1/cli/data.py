"""Data helpers: where Fashion-MNIST was found, or fetch it with Paddle's downloader.

    python tools/data.py where       # prints the folder used, or where it looked
    python tools/data.py download    # Paddle's downloader into ~/.cache/paddle (needs internet)
"""
import argparse

from .common import entry



def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["where", "download"])
    p.add_argument("--root", default=None)
    args = p.parse_args()
    from track1.data.fashion_mnist import download, find_root
    if args.cmd == "download":
        print(download())
    else:
        print(find_root(args.root))


entry_point = entry(main)
