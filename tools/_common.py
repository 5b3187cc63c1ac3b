"""Shared start-up for the command-line tools: quiet Paddle, one-line errors, exit code 2."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("GLOG_minloglevel", "2")     # Paddle's C++ info lines

import track1  # noqa: E402,F401  (filters Paddle's import-time warning)


def fail(msg: str, code: int = 2):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def run_main(main):
    """Run `main()`, turning the errors users can cause into one line and exit 2."""
    from track1.candidates import CandidateError
    from track1.config import ConfigError
    from track1.data import DataError
    from track1.parallel import WorkerError
    from track1.space import CodeError
    try:
        sys.exit(main() or 0)
    except (CandidateError, ConfigError, DataError, CodeError, WorkerError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def add_config_args(p):
    p.add_argument("--config", default=None, help="a config path or a name in configs/ (default: fashion_mnist)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set standalone.epochs=4 (repeatable)")
    return p
