"""The drills package has no import cycle: not at module level, and not hidden inside functions.

Two checks: the static graph of every ``import`` in ``drills/`` (module level and inside functions alike;
only ``if TYPE_CHECKING:`` blocks are left out, they never run) has no strongly connected component; and
each module imports alone, in an interpreter where no module of ours was imported before it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "drills"
#: Modules that are programs, not libraries: importing them would start a server or a load test.
ENTRY_POINTS = {"drills.service.__main__", "drills.load.locustfile"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(name: str, path: Path) -> set[str]:
    """The ``drills`` modules ``name`` imports when its code runs (any depth of nesting)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def add(target: str) -> None:
        if target in MODULES and target != name:
            found.add(target)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    add(f"{base}.{alias.name}")  # ``from drills import active``: the submodule
                else:
                    add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm; components of more than one module are the cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def test_the_graph_finder_sees_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(textwrap.dedent("""
        from typing import TYPE_CHECKING
        from drills import active
        if TYPE_CHECKING:
            from drills.runner import DrillRunner
        def later():
            from drills.recovery import recover
            import drills.pids
    """))
    assert imported_modules("drills.probe", source) == {"drills.active", "drills.recovery", "drills.pids"}
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"], ["c"]]


def test_drills_has_no_import_cycle() -> None:
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert not cycles, "import cycles in drills/: " + "; ".join(
        " <-> ".join(c) + " (" + ", ".join(f"{m} imports {sorted(graph[m] & set(c))}" for m in c) + ")"
        for c in cycles
    )


def test_the_kubernetes_target_has_one_home() -> None:
    """No re-export shims: each class is defined where it is imported from."""
    assert not (PACKAGE / "targets" / "kubernetes.py").exists()
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert "drills.targets.kubernetes" not in set().union(*graph.values())


# Each module alone: a parent interpreter loads the third-party libraries once (no module of ours), then
# forks a child per module, so every child starts with none of gameday's, sim's or drills' modules loaded.
_ALONE = """
import importlib, json, os, sys, traceback
for lib in ("pydantic", "yaml", "numpy", "httpx", "rich", "typer", "simpy", "kubernetes.client",
            "kubernetes.config", "fastapi", "psycopg", "psycopg_pool", "prometheus_client", "pandas"):
    importlib.import_module(lib)
assert not [m for m in sys.modules if m.split(".")[0] in ("drills", "gameday", "sim")]
failures = {}
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            message = ""
        except BaseException:
            message = traceback.format_exc(limit=6)
        os.write(write, message.encode()[:60000])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        message = fh.read().decode()
    os.waitpid(pid, 0)
    if message:
        failures[name] = message
print(json.dumps(failures))
"""


@pytest.mark.timeout(300)
def test_every_drills_module_imports_alone_in_a_fresh_interpreter() -> None:
    import json

    names = sorted(n for n in MODULES if n not in ENTRY_POINTS)
    done = subprocess.run([sys.executable, "-c", _ALONE, *names], capture_output=True, text=True, timeout=280,
                          cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
