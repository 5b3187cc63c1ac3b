"""tools/fewshot.py: see `python tools/fewshot.py --help` (the tool lives in track1/cli/fewshot.py)."""
from track1.cli.fewshot import entry_point

if __name__ == "__main__":
    entry_point()
