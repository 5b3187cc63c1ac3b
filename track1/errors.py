"""The errors a user can cause, and how their messages name what the user gave.

Every such error derives from `UserError`: the tools print its message as one line and
exit 2 (`tools/_common.run_main`), while any other exception is a bug and keeps its
traceback. The specific classes (CandidateError, ConfigError, ...) also keep the stdlib
base they always had, so existing `except ValueError` clauses still catch them.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


class UserError(Exception):
    """A bad input, setting or environment the user can fix; the message is one line."""


class InputError(UserError, ValueError):
    """An input file that is missing, unreadable or malformed."""


class OutputError(UserError, OSError):
    """An output path that cannot be written (a directory, a device, no permission, disk full)."""


def quote(text, limit: int = 200) -> str:
    """`text` in quotes, as repr() when it holds characters a terminal would act on (a
    newline splits the message, a CR overwrites it) or hide; cut after `limit` characters
    (a 5,000-character argument must not fill the screen)."""
    text = str(text)
    tail = f"... ({len(text)} characters)" if len(text) > limit else ""
    text = text[:limit]
    return (f"'{text}'" if text.isprintable() else repr(text)) + tail


def one_line(msg: str) -> str:
    """The last guard before printing: any control character left in a message is escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(msg))


def describe(path) -> str:
    """What `path` is, for a message about a path that is not the regular file expected:
    'does not exist', 'is a directory', 'is a character device', ..."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return "is a broken symbolic link" if p.is_symlink() else "does not exist"
    except NotADirectoryError:
        return "does not exist (a parent is not a directory)"
    except OSError as e:
        return f"cannot be inspected ({e.strerror})"
    kinds = ((stat.S_ISDIR, "is a directory"), (stat.S_ISCHR, "is a character device"),
             (stat.S_ISBLK, "is a block device"), (stat.S_ISFIFO, "is a named pipe"),
             (stat.S_ISSOCK, "is a socket"), (stat.S_ISREG, "is a regular file"))
    return next((text for test, text in kinds if test(mode)), "is not a regular file")


def not_a_file(what: str, path) -> str:
    """The message for a `what` at `path` that is not a regular file: "...: no such file",
    or what it is instead ("... is a directory")."""
    state = describe(path)
    if state == "does not exist":
        return f"{what} {quote(path)}: no such file"
    return f"{what} {quote(path)} {state}"
