"""The house's shape as a checked contract: the import-linter contracts of pyproject.toml (a
room imports only the rooms below it), no module over 400 lines, no function over 80, and at
most 9 levels in the import graph.

The depth is counted on grimp's graph of ``courtbox`` (every import that runs, at module level
or inside a function; imports under ``if TYPE_CHECKING:`` run never and are left out): the
number of modules on the longest chain ``a imports b imports c …``, ``courtbox.errors``
included, after folding import cycles into one node (a cycle has no order to count).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "courtbox"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
MAX_DEPTH = 9


def test_every_import_runs_the_way_the_layout_says() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_no_module_is_two_ideas() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def import_depth() -> tuple[int, list[str]]:
    """The longest import chain in modules, and the chain itself."""
    graph = grimp.build_graph("courtbox", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    # Tarjan's strongly connected components, so that a cycle counts as one level.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, int] = {}
    stack: list[str] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            while True:
                w = stack.pop()
                comp[w] = index[v]
                if w == v:
                    break

    for m in modules:
        if m not in index:
            strong(m)

    @cache
    def longest(v: str) -> tuple[str, ...]:
        best: tuple[str, ...] = ()
        for w in edges[v]:
            if comp[w] == comp[v]:
                continue
            chain = longest(w)
            if len(chain) > len(best):
                best = chain
        return (v, *best)

    chain = max((longest(m) for m in modules), key=len)
    return len(chain), list(chain)


def test_the_import_graph_is_shallow() -> None:
    depth, chain = import_depth()
    assert depth <= MAX_DEPTH, " -> ".join(chain)


if __name__ == "__main__":
    depth, chain = import_depth()
    print(depth, " -> ".join(chain))
