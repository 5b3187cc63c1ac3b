"""tools/check.py: see `python tools/check.py --help` (the tool lives in track1/cli/check.py)."""
from track1.cli.check import entry_point

if __name__ == "__main__":
    entry_point()
