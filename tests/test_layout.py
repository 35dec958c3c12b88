"""The package's layout: no module imports itself back through others (no import cycle), and no
folder does either: the folders stand in layers. Modules and functions stay small: one concept a
module (at most ``MAX_MODULE_LINES``), one step a function (at most ``MAX_FUNCTION_LINES``).

Every import counts, at the top of a module or inside a function (a late import is still a
dependency), except those made for type checkers alone (under ``if TYPE_CHECKING:``).
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import multifetch

ROOT = Path(multifetch.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60  # from ``def`` to the last line: signature, docstring and comments count


def module_name(path: Path) -> str:
    parts = ["multifetch", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The project's modules that ``path`` imports when it runs."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # imports made for type checkers only are not dependencies
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import module`
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_late_and_relative_imports() -> None:
    graph = import_graph()
    assert "multifetch.engine._input" in graph["multifetch._client"]
    assert graph["multifetch.cli._group"] - {"multifetch.cli.main"}  # reads the imports in functions
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_no_cycle_between_folders() -> None:
    """A folder (``engine``, ``runners``...) is one node; a module at the package's top is its own."""
    by_folder: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        folder = module.split(".")[1] if "." in module else module
        by_folder.setdefault(folder, set()).update(
            t.split(".")[1] if "." in t else t for t in targets)
    for folder, targets in by_folder.items():
        targets.discard(folder)
        for target in targets:
            by_folder.setdefault(target, set())
    cycle = find_cycle(by_folder)
    assert cycle is None, "folders import each other: " + " → ".join(cycle or [])


def oversized(name: str, text: str) -> list[str]:
    """What in module ``name`` (source ``text``) is over the limits, one line each."""
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    return found


def test_the_size_check_sees_long_functions_and_modules() -> None:
    body = "".join(f"    x = {i}\n" for i in range(MAX_FUNCTION_LINES - 1))  # with its def: the limit
    assert oversized("m", "def fits():\n" + body) == []
    longer = "class C:\n    async def long(self):\n" + textwrap.indent(body + "    x = 0\n", "    ")
    assert oversized("m", longer) == [f"m:2 long(): {MAX_FUNCTION_LINES + 1} lines"]
    assert oversized("m", "x = 1\n" * (MAX_MODULE_LINES + 1)) == [f"m: {MAX_MODULE_LINES + 1} lines"]


def test_modules_and_functions_stay_small() -> None:
    found = [f for path in sorted(ROOT.rglob("*.py"))
             for f in oversized(module_name(path), path.read_text(encoding="utf-8"))]
    assert not found, "over the size limits: " + "; ".join(found)
