"""tools/nar.py: see `python tools/nar.py --help` (the tool lives in track1/cli/nar.py)."""
from track1.cli.nar import entry_point

if __name__ == "__main__":
    entry_point()
