"""The README's fenced shell commands work as a reader types them (issue #20).

What counts as a command: every line of a fenced block whose info string is ``bash``, ``sh``, ``shell`` or
``console`` (a leading ``$ `` prompt is dropped), with ``\\`` continuations joined; blank lines and lines that
start with ``#`` are not commands, and a trailing ``# ...`` is bash's own comment.

The rule that decides what runs here: each command is matched, after a leading ``.venv/bin/`` is dropped,
against EXCLUDED first and RUNNABLE second (regular expressions, below):

- EXCLUDED lists what needs a cluster, Docker, the sandbox, a running drill, the network, root or minutes,
  each with its reason; such commands are checked by the suites that own them (tests/kind, tests/drills, ...).
- RUNNABLE lists the commands that only read files and compute (help, the runbook, validation, simulation,
  sweeps, scoring, reports, tables, the history store and its reviews: its store lies in the temporary state
  folder); every one of them runs with bash and must exit 0.
- A command that matches neither fails this test: a new command in the README needs a decision, made here.

The runnable commands run in a temporary folder that holds copies of the checkout's ``scenarios/``,
``runbooks/`` and ``examples/`` and a link to its ``.venv``, with ``.venv/bin`` first on PATH and
``GAMEDAY_STATE_DIR`` inside that folder, so neither the checkout nor the user's state changes. The commands of
one block run in order (a later one may read what an earlier one wrote, e.g. a simulated journal it then
scores); blocks run side by side, so a block must not need another block's output. The README keeps the
numbers of its examples small enough for all of this to take well under a minute on a quiet two-core machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL_FENCES = {"bash", "sh", "shell", "console"}
#: Inputs the README's commands read, copied into the temporary folder they run in.
INPUTS = ("scenarios", "runbooks", "examples")
#: seconds one command may take before the test calls it hung (a loaded CI machine is slow, not broken)
COMMAND_TIMEOUT_S = 300

EXCLUDED: list[tuple[str, str]] = [
    (r"^make\b", "sets the machine up as root (apt-get, builds, Docker) and runs for minutes or more"),
    (r"^gameday (sandbox|drill|demo|war-room)\b", "starts or needs the local sandbox, a running drill or a server"),
    (r"^gameday cluster\b", "needs Docker and a kind cluster"),
    (r"^(kubectl|curl)\b", "needs the kind cluster and the runbook's hostnames it maps to 127.0.0.1"),
    (r"^dask\b", "starts a Dask scheduler or worker, which runs until stopped"),
    (r"--scheduler\b", "needs a Dask cluster"),
    (r"(^|\s)out/", "reads a drill's results under out/, which exist only after a drill"),
    (r"^jupyter\b|^python3? (notebooks|examples)/", "runs for minutes and rewrites files committed in the repo"),
]
RUNNABLE: list[str] = [
    r"^source \.venv/bin/activate$",
    r"^gameday (\S+ )*--help$",
    r"^gameday (runbook (show|commands)|validate|schema|simulate|compare|sweep|detectability|calibrate|score"
    r"|report|journal (export|metrics)|history (import|add|list|export|action done)|review (monthly|weekly))\b",
]


@dataclass(frozen=True)
class Command:
    line: int  # README line where it starts
    text: str  # as bash gets it

    @property
    def normal(self) -> str:
        """Without a trailing comment, surplus spaces and a leading ``.venv/bin/``: what the rules read."""
        text = re.sub(r"\s+#.*$", "", self.text)  # no '#' inside the README's quoted arguments
        text = " ".join(text.split())
        return text.removeprefix(".venv/bin/")


def fenced_commands(markdown: str) -> list[list[Command]]:
    """The commands of every shell block, one list per block, in README order."""
    blocks: list[list[Command]] = []
    fence: str | None = None  # the info string of the open fence, None outside one
    pending, start = "", 0
    for number, line in enumerate(markdown.splitlines(), 1):
        marker = re.match(r"^\s*(?:```|~~~)\s*(\S*)", line)
        if marker:
            if fence is None:
                fence = marker.group(1).lower()
                if fence in SHELL_FENCES:
                    blocks.append([])
            else:
                assert not pending, f"README.md:{start}: a command ends with '\\' at the end of its block"
                fence = None
            continue
        if fence not in SHELL_FENCES:
            continue
        text = line.strip()
        if not pending:
            text = text.removeprefix("$ ")
            if not text or text.startswith("#"):
                continue
            start = number
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        blocks[-1].append(Command(start, pending + text))
        pending = ""
    assert fence is None, "README.md: a fenced block is never closed"
    return [block for block in blocks if block]


def exclusion(command: Command) -> str | None:
    return next((reason for pattern, reason in EXCLUDED if re.search(pattern, command.normal)), None)


def runnable(command: Command) -> bool:
    return any(re.search(pattern, command.normal) for pattern in RUNNABLE)


# -- the parser itself --------------------------------------------------------------------------------------


def test_parser_reads_shell_blocks_only() -> None:
    text = "\n".join([
        "```bash", "make demo   # a comment", "# a whole-line comment", "", "gameday sweep --policy p.yaml \\",
        "      --vary a=1,2", "```", "```python", "import os", "```", "```", "not a command", "```",
        "```sh", "$ .venv/bin/gameday --help", "```",
    ])  # fmt: skip
    blocks = fenced_commands(text)
    assert [[c.normal for c in block] for block in blocks] == [
        ["make demo", "gameday sweep --policy p.yaml --vary a=1,2"], ["gameday --help"]]
    assert [c.line for c in blocks[0]] == [2, 5]


# -- the README ---------------------------------------------------------------------------------------------


def test_readme_starts_with_the_two_commands_for_a_fresh_machine() -> None:
    """``make demo`` sets up and runs the main job; ``make test`` sets up and runs the tests (the README's
    first lines say so, and the Makefile must keep it true)."""
    first = fenced_commands(README.read_text(encoding="utf-8"))[0]
    assert [c.normal for c in first] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^demo:([^\n#]*)", makefile, re.M)
    assert demo and "setup" in demo.group(1).split(), "make demo must depend on setup"
    assert re.search(r"^\t.*gameday demo\b", makefile[demo.end():].split("\n\n")[0], re.M)
    test = re.search(r"^test:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)
    assert test and "tools/test.sh" in test.group(1), "make test must run tools/test.sh"
    assert re.search(r"make\b[^\n]*\bsetup\b", (ROOT / "tools" / "test.sh").read_text(encoding="utf-8")), \
        "tools/test.sh must set the machine up (make setup)"


def test_every_readme_command_is_run_or_excluded() -> None:
    undecided = [f"README.md:{c.line}: {c.normal}" for block in fenced_commands(README.read_text(encoding="utf-8"))
                 for c in block if exclusion(c) is None and not runnable(c)]  # fmt: skip
    assert not undecided, ("commands neither run nor excluded (add a rule to RUNNABLE or EXCLUDED in "
                           f"{Path(__file__).name}):\n" + "\n".join(undecided))


def _run_block(block: list[Command], folder: Path, env: dict[str, str]) -> list[str]:
    failures: list[str] = []
    for command in block:
        started = time.monotonic()
        try:
            done = subprocess.run(["bash", "-c", command.text], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)  # fmt: skip
        except subprocess.TimeoutExpired:
            failures.append(f"README.md:{command.line}: {command.normal}\n  still running after {COMMAND_TIMEOUT_S} s")
            break
        if done.returncode != 0:
            tail = "\n  ".join((done.stderr or done.stdout).strip().splitlines()[-8:])
            failures.append(f"README.md:{command.line}: {command.normal}\n  exit {done.returncode} after "
                            f"{time.monotonic() - started:.0f} s:\n  {tail}")
            break  # the block's later commands may need what this one should have written
    return failures


def test_readme_commands_that_need_no_cluster_run(tmp_path: Path) -> None:
    blocks = [[c for c in block if exclusion(c) is None and runnable(c)]
              for block in fenced_commands(README.read_text(encoding="utf-8"))]  # fmt: skip
    blocks = [block for block in blocks if block]
    if not blocks:
        pytest.fail("the README shows no command that runs without a cluster")
    for name in INPUTS:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GAMEDAY_KUBE", "GAMEDAY_ALLOWED", "VIRTUAL_ENV"))}  # fmt: skip
    env.update(PATH=f"{tmp_path / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               GAMEDAY_STATE_DIR=str(tmp_path / "state"), COLUMNS="120", MPLBACKEND="Agg")
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        results = list(pool.map(lambda block: _run_block(block, tmp_path, env), blocks))
    failures = [failure for result in results for failure in result]
    assert not failures, "README commands failed:\n" + "\n".join(failures)
