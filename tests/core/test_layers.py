"""The core (``gameday/``) imports nothing above it: ``sim`` and ``drills`` plug in through entry points.

Read from the sources (ast), so an import hidden inside a function, or a module path in a string handed to
importlib, is caught as well as a top-level import.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from gameday.plugins import COMMANDS, FILE_KINDS, STARTUP, group

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "gameday"
ABOVE = ("sim", "drills")
#: "sim.policy:Policy", "drills.recovery" -- a module path (the bare word "sim" is a journal source, not a module)
MODULE_STRING = re.compile(rf"^({'|'.join(ABOVE)})(\.[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?|:[A-Za-z_]\w*)$")


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.match(node.value):
            names = [node.value]  # "sim.policy:Policy" for importlib is an import too
        for name in names:
            if name.split(".")[0].split(":")[0] in ABOVE:
                found.append(f"{path.name}:{node.lineno}: {name}")
    return found


def test_core_sources_never_name_sim_or_drills() -> None:
    sources = sorted(CORE.rglob("*.py"))
    assert len(sources) > 20
    violations = [v for path in sources for v in _violations(path)]
    assert violations == []


def test_the_checker_would_catch_one(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("import json\n\ndef f():\n    from drills.runner import run_drill\n    return 'sim.policy:Policy'\n",
                   encoding="utf-8")
    assert _violations(bad) == ["probe.py:4: drills.runner", "probe.py:5: sim.policy:Policy"]


def test_the_composition_lives_in_pyproject_and_is_installed() -> None:
    """The entry points pyproject declares are the ones this environment loads (else: make venv)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["entry-points"]
    for name in (COMMANDS, STARTUP, FILE_KINDS):
        assert {ep.name: ep.value for ep in group(name)} == declared[name], f"{name}: reinstall with make venv"
    assert declared[COMMANDS]["demo"] == "drills.demo:register"
    assert declared[FILE_KINDS]["policy"] == "sim.policy:Policy"
