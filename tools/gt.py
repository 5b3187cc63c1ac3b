"""tools/gt.py: see `python tools/gt.py --help` (the tool lives in track1/cli/gt.py)."""
from track1.cli.gt import entry_point

if __name__ == "__main__":
    entry_point()
