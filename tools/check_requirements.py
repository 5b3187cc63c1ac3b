"""Which pinned requirements are missing, for tools/setup.sh (standard library only: it runs
before anything is installed).

Paddle comes as several distributions of one `paddle` package: `paddlepaddle` (CPU),
`paddlepaddle-gpu` and other `paddlepaddle-<build>` wheels. Any of them at the pinned
version satisfies the `paddlepaddle` pin, whatever build tag the version carries: Paddle
2.x GPU wheels were versioned like `2.4.2.post117` (the CUDA version), 3.x wheels from
Paddle's per-CUDA package indexes carry the plain version. A GPU build is never replaced:
installing the CPU wheel next to it would overwrite the same `paddle` files.

Report on stdout (last line `satisfied` or `would install: SPEC ...`); `--specs` prints only
the specifiers to install. Exit 0: all satisfied; 3: something to install (not 1, which
is what a crash of this script returns); 2: a Paddle build of another version that pip must
not touch (one line on stderr).
"""
from __future__ import annotations

import argparse
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

PADDLE = "paddlepaddle"
TO_INSTALL = 3


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def is_paddle(name: str) -> bool:
    n = canonical(name)
    return n == PADDLE or n.startswith(PADDLE + "-")


def paddle_version_matches(installed: str, pinned: str) -> bool:
    """Same release; a CUDA build tag (`.postNNN`) or local label (`+...`) is not a different version."""
    return installed == pinned or re.fullmatch(re.escape(pinned) + r"(\.post\d+)?(\+[\w.]+)?", installed) is not None


def read_pins(path) -> list:
    pins = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, ver = (s.strip() for s in line.split("==", 1))
            pins.append((name, ver))
    return pins


def installed(paths=None) -> dict:
    """canonical name -> [(name as recorded, version)] of the distributions on `paths` (default sys.path)."""
    found = {}
    for d in distributions(**({"path": list(paths)} if paths else {})):
        name = d.metadata["Name"]
        if name:
            found.setdefault(canonical(name), []).append((name, d.version))
    return found


def check(pins, found):
    """(report lines, specifiers to install, refusal or None)."""
    lines, todo, refusal = [], [], None
    for name, ver in pins:
        spec = f"{name}=={ver}"
        if is_paddle(name):
            builds = [(n, v) for key, dists in found.items() if is_paddle(key) for n, v in dists]
            ok = [(n, v) for n, v in builds if paddle_version_matches(v, ver)]
            if ok:
                lines.append(f"satisfied: {spec} by {ok[0][0]} {ok[0][1]}")
                continue
            other = [(n, v) for n, v in builds if canonical(n) != PADDLE]
            if other:
                refusal = (f"{other[0][0]} {other[0][1]} is installed but track1 pins Paddle {ver}: install "
                           f"{other[0][0]}=={ver} for your CUDA (Paddle's install guide); setup does not put "
                           f"the CPU wheel over it")
                lines.append(f"refused: {spec} ({other[0][0]} {other[0][1]} present)")
                continue
        else:
            have = [v for _, v in found.get(canonical(name), [])]
            if ver in have:
                lines.append(f"satisfied: {spec}")
                continue
            builds = [(name, v) for v in have]
        lines.append(f"missing: {spec}" + (f" (found {', '.join(v for _, v in builds)})" if builds else ""))
        todo.append(spec)
    return lines, todo, refusal


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requirements", default=str(Path(__file__).resolve().parent.parent / "requirements.txt"))
    ap.add_argument("--path", action="append", help="search these directories instead of sys.path (repeatable)")
    ap.add_argument("--specs", action="store_true", help="print only the specifiers to install")
    args = ap.parse_args(argv)
    lines, todo, refusal = check(read_pins(args.requirements), installed(args.path))
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    if args.specs:
        print(" ".join(todo))
    else:
        print("\n".join(lines + ([f"would install: {' '.join(todo)}"] if todo else ["satisfied"])))
    return TO_INSTALL if todo else 0


if __name__ == "__main__":
    sys.exit(main())
