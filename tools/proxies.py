"""tools/proxies.py: see `python tools/proxies.py --help` (the tool lives in track1/cli/proxies.py)."""
from track1.cli.proxies import entry_point

if __name__ == "__main__":
    entry_point()
