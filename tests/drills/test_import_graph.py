"""gameday, sim and drills have no import cycle: not at module level, and not hidden inside functions.

Two checks: the static graph of every ``import`` in the three packages (module level and inside functions
alike; only ``if TYPE_CHECKING:`` blocks are left out, they never run) has no strongly connected component;
and each module imports alone, in an interpreter where no module of ours was imported before it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("gameday", "sim", "drills")
PACKAGE = REPO / "drills"
#: Modules that are programs, not libraries: importing them would start a server or a load test.
ENTRY_POINTS = {"drills.service.__main__", "drills.load.locustfile"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(name: str, path: Path, known: dict[str, Path] | None = None) -> set[str]:
    """The modules of ours (``known``, default :data:`MODULES`) ``name`` imports when its code runs (any depth
    of nesting)."""
    known = MODULES if known is None else known
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def add(target: str) -> None:
        if target in known and target != name:
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
                if f"{base}.{alias.name}" in known:
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


def cycles_in(modules: dict[str, Path]) -> list[list[str]]:
    """The cycles (strongly connected components of more than one module) of ``modules``' import graph."""
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    return [c for c in strongly_connected(graph) if len(c) > 1]


def describe(cycle: list[str], modules: dict[str, Path]) -> str:
    """``a <-> b (a imports ['b'], b imports ['a'])``."""
    imports = {m: sorted(imported_modules(m, modules[m], modules) & set(cycle)) for m in cycle}
    return " <-> ".join(cycle) + " (" + ", ".join(f"{m} imports {imports[m]}" for m in cycle) + ")"


def test_the_graph_covers_gameday_sim_and_drills() -> None:
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    assert {"gameday.cli", "sim.sweep.plan", "drills.k8s.target"} <= set(MODULES)
    assert "sim.sweep.run" in imported_modules("sim.sweep.cli", MODULES["sim.sweep.cli"])  # inside a function


def test_a_cycle_planted_in_sim_is_found(tmp_path: Path) -> None:
    """Two new sim modules that import each other, one of them only inside a function: a cycle."""
    (tmp_path / "planted_a.py").write_text("from sim.sweep import planted_b\n")
    (tmp_path / "planted_b.py").write_text("def later():\n    import sim.sweep.planted_a\n")
    planted = {**MODULES, "sim.sweep.planted_a": tmp_path / "planted_a.py",
               "sim.sweep.planted_b": tmp_path / "planted_b.py"}  # fmt: skip
    assert ["sim.sweep.planted_a", "sim.sweep.planted_b"] in cycles_in(planted)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    """None among one package's modules, and none through another package either."""
    found = [c for c in cycles_in(MODULES) if any(m.split(".")[0] == package for m in c)]
    assert not found, f"import cycles through {package}/: " + "; ".join(describe(c, MODULES) for c in found)


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
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    import json

    names = sorted(n for n in MODULES if n not in ENTRY_POINTS)
    done = subprocess.run([sys.executable, "-c", _ALONE, *names], capture_output=True, text=True, timeout=280,
                          cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
