"""tools/predict.py: see `python tools/predict.py --help` (the tool lives in track1/cli/predict.py)."""
from track1.cli.predict import entry_point

if __name__ == "__main__":
    entry_point()
