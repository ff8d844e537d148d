"""The kind app images carry only ``APP_SOURCES`` of the repository: every ``drills``/``gameday`` module those
sources import must be among them, or a pod fails at start with ImportError (found only on a kind cluster)."""

from __future__ import annotations

import ast
from pathlib import Path

from drills.k8s.build.apps import APP_SOURCES
from drills.k8s.build.versions import REPO


def _shipped_files() -> set[Path]:
    files: set[Path] = set()
    for rel in APP_SOURCES:
        path = REPO / rel
        files |= set(path.rglob("*.py")) if path.is_dir() else {path}
    return files


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _project_imports(source: Path) -> set[str]:
    """Modules of this repository that ``source`` imports (at the top or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {n for n in names if n.split(".")[0] in ("drills", "gameday", "sim")}
    return found


def test_every_project_module_the_images_import_is_shipped_in_them() -> None:
    shipped = _shipped_files()
    missing = {}
    for source in sorted(shipped):
        for module in _project_imports(source):
            path = _module_file(module)
            if path is not None and path not in shipped:
                missing.setdefault(module, []).append(str(source.relative_to(REPO)))
    assert not missing, f"imported by the app images but not in APP_SOURCES (drills/k8s/build/apps.py): {missing}"
