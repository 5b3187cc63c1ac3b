"""The code version recorded with every result: package version and git commit."""
from __future__ import annotations

import functools
import subprocess

from . import __version__
from .config import REPO


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        # --no-optional-locks: `git status` refreshes the index under .git/index.lock, and a
        # tool killed (kill -9 of its group, the timeout here) during the call would leave
        # that lock behind, refusing the user's every later git command in the checkout.
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    if not sha:
        return __version__
    return f"{__version__}+{sha}{'.dirty' if dirty else ''}"
