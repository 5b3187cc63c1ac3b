"""tools/train_standalone.py: see `python tools/train_standalone.py --help` (the tool lives in track1/cli/train_standalone.py)."""
from track1.cli.train_standalone import entry_point

if __name__ == "__main__":
    entry_point()
