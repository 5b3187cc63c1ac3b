"""The package's layering: every import (module level or inside a function) goes to the same
layer or one below, and no modules import each other in a circle. README "Layout" draws it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "track1"

# Lowest first. A module belongs to the first entry naming it or a package holding it.
LAYERS = [
    ("base", ["track1", "track1.quiet", "track1.errors", "track1.registry", "track1.io_utils", "track1.metrics",
              "track1.parallel", "track1.data"]),
    ("space", ["track1.space", "track1.profile"]),
    ("settings", ["track1.config", "track1.version", "track1.identity", "track1.candidates", "track1.check"]),
    ("models", ["track1.models", "track1.bn", "track1.interop"]),
    ("runtime", ["track1.runtime"]),
    ("proxies/scoring/nar", ["track1.proxies", "track1.scoring", "track1.nar"]),
    ("train", ["track1.train"]),                 # the training stack: engines, strategies, the loop
    ("standalone", ["track1.standalone"]),       # the training stack on one code
    ("gt", ["track1.gt"]),                       # ground-truth builds of stand-alone runs
    ("cli", ["track1.cli"]),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best = None
    for i, (_, names) in enumerate(LAYERS):
        for n in names:
            inside = module == n or (n != "track1" and module.startswith(n + "."))
            if inside and (best is None or len(n) > len(best[1])):
                best = (i, n)
    if best is None:
        raise AssertionError(f"module {module} is in no layer of tests/test_layering.py")
    return best[0]


def imports_of(path: Path) -> set:
    """track1 modules `path` imports, resolved to the deepest existing module."""
    tree = ast.parse(path.read_text())
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [f"{mod}.{a.name}" for a in node.names] + [mod]
        else:
            continue
        for n in names:
            if n == "track1" or n.startswith("track1."):
                out.add(_existing(n))
    out.discard(me)
    return out


def _existing(name: str) -> str:
    parts = name.split(".")
    while parts:
        p = PKG.parent.joinpath(*parts)
        if p.with_suffix(".py").is_file() or (p / "__init__.py").is_file():
            return ".".join(parts)
        parts = parts[:-1]
    return name


GRAPH = {module_name(p): imports_of(p) for p in sorted(PKG.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    mine = layer_of(module)
    for target in sorted(GRAPH[module]):
        if target == "track1":
            continue                     # the package itself: its __init__ only quiets Paddle
        assert layer_of(target) <= mine, (f"{module} ({LAYERS[mine][0]}) imports {target} "
                                          f"({LAYERS[layer_of(target)][0]}), a layer above it")


def test_no_import_cycle():
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if t not in GRAPH or t == "track1":
                continue
            if state.get(t) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_the_check_itself_sees_upward_imports_and_cycles(tmp_path):
    assert layer_of("track1.scoring.fast") > layer_of("track1.models.masked")
    assert "track1.space" in GRAPH["track1.profile"] and "track1.models.masked" in GRAPH["track1.scoring.fast"]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("track1.nowhere")


MAX_FUNCTION_LINES = 80


def test_no_function_longer_than_80_lines():
    long = []
    for path in sorted(PKG.rglob("*.py")) + sorted((PKG.parent / "tools").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PKG.parent)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "split these: " + "; ".join(long)


def test_tools_are_thin_and_edit_no_import_path():
    """tools/*.py run a track1.cli entry point; nothing in the repository edits sys.path."""
    for path in sorted((PKG.parent / "tools").glob("*.py")):
        if path.name == "check_requirements.py":      # runs before track1 is installed (setup.sh)
            continue
        assert len(path.read_text().splitlines()) <= 6, path
    for path in [*PKG.rglob("*.py"), *(PKG.parent / "tools").glob("*.py"), *(PKG.parent / "benchmarks").glob("*.py"),
                 *(PKG.parent / "tests").glob("*.py")]:
        if path.name == "test_architecture.py":
            continue
        assert "sys.path.insert" not in path.read_text().replace('sys.path.insert(0, %r)', ""), path
