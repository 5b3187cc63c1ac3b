"""tools/export.py: see `python tools/export.py --help` (the tool lives in track1/cli/export.py)."""
from track1.cli.export import entry_point

if __name__ == "__main__":
    entry_point()
