"""The house's import rules (DESIGN.md "Layout"), checked on the source: no import circle
between our modules, and none of the arrows that must never exist. Imports under
`TYPE_CHECKING` and inside functions count: a circle hidden there is still a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("core", "drivers", "simulators", "monitors", "importers", "app")
FORBIDDEN = {
    "core": {"drivers", "simulators", "monitors", "app"},
    "drivers": {"simulators", "monitors", "app"},
    "monitors": {"drivers", "simulators", "app"},
    "simulators": {"monitors", "app"},
    "importers": {"drivers", "simulators", "monitors", "app"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if "__pycache__" not in p.parts
    }


def _imports(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """Our modules that `path` imports (a `from pkg import mod` names the submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                yield t


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: set(_imports(path, name, known)) for name, path in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_between_our_modules() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a circle of design
    pruned = {
        m: {t for t in ts if not (t == m.rpartition(".")[0] or m.startswith(t + "."))}
        for m, ts in graph.items()
    }
    assert _cycles(pruned) == []


@pytest.mark.parametrize("pkg", sorted(FORBIDDEN))
def test_no_forbidden_arrow(pkg: str) -> None:
    bad = sorted(
        f"{m} → {t}"
        for m, ts in _graph().items()
        if m.split(".")[0] == pkg
        for t in ts
        if t.split(".")[0] in FORBIDDEN[pkg]
    )
    assert bad == []
