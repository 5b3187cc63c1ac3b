"""tools/arch.py: see `python tools/arch.py --help` (the tool lives in track1/cli/arch.py)."""
from track1.cli.arch import entry_point

if __name__ == "__main__":
    entry_point()
