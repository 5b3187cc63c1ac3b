"""tools/data.py: see `python tools/data.py --help` (the tool lives in track1/cli/data.py)."""
from track1.cli.data import entry_point

if __name__ == "__main__":
    entry_point()
