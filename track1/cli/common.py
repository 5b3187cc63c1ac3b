"""What every command-line tool shares: one-line errors with exit code 2, config arguments.

A tool is argparse, one library call and printing; the errors a user can cause are
`track1.errors.UserError` and end as one line on stderr; any other exception is a bug and
keeps its traceback."""
from __future__ import annotations

import os
import select
import sys

from ..errors import UserError, one_line


def fail(msg: str, code: int = 2):
    # one_line: a stray newline or CR from user input must not split or overwrite the message
    print(f"error: {one_line(msg)}", file=sys.stderr)
    sys.exit(code)


def run_main(main):
    """Run `main()`: UserError -> one line and exit 2, Ctrl-C -> exit 130, a reader that
    closed the pipe (`tool | head`) -> quiet exit 141, as a program killed by SIGPIPE."""
    try:
        rc = main() or 0
        sys.stdout.flush()          # inside the try: a reader gone before the last flush is caught too
    except UserError as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        if not _stdout_closed():
            raise                   # another pipe (a worker's, a socket): a bug, keep its traceback
        # Python would flush stdout again at exit and print a second error: point it at devnull.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    sys.exit(rc)


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports POLLERR on its write end)."""
    try:
        p = select.poll()
        p.register(sys.stdout.fileno(), select.POLLERR)
        return any(ev & select.POLLERR for _, ev in p.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def entry(main):
    """A console entry point running `main` under `run_main`."""
    return lambda: run_main(main)


def add_config_args(p):
    p.add_argument("--config", default=None, help="a config path or a name in configs/ (default: fashion_mnist)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set standalone.epochs=4 (repeatable)")
    return p


def positive_int(value: str) -> int:
    """argparse type of a count (--jobs, --max-steps): an integer >= 1 (0 or less is refused, never replaced)."""
    import argparse
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


__all__ = ["add_config_args", "entry", "fail", "positive_int", "run_main"]
