"""Shared start-up for the command-line tools: quiet Paddle, one-line errors, exit code 2."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import track1  # noqa: E402,F401  (quiets Paddle before any tool imports it: track1.quiet)
from track1.errors import UserError, one_line  # noqa: E402


def fail(msg: str, code: int = 2):
    # one_line: a stray newline or CR from user input must not split or overwrite the message
    print(f"error: {one_line(msg)}", file=sys.stderr)
    sys.exit(code)


def run_main(main):
    """Run `main()`, turning the errors users can cause (track1.errors.UserError) into one
    line and exit 2; any other exception is a bug and keeps its traceback."""
    try:
        sys.exit(main() or 0)
    except UserError as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def add_config_args(p):
    p.add_argument("--config", default=None, help="a config path or a name in configs/ (default: fashion_mnist)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set standalone.epochs=4 (repeatable)")
    return p
