"""tools/train.py: see `python tools/train.py --help` (the tool lives in track1/cli/train.py)."""
from track1.cli.train import entry_point

if __name__ == "__main__":
    entry_point()
