"""Bad input, fuzzed: >= 1,000 damaged scenario, policy, runbook and journal files each.

Every input is either accepted or refused with one line naming the file (exit 2 through the CLI), with no
traceback and no partial output file.  The bulk runs in-process through the validation functions the
commands call (fast enough for CI); one generated bad input per kind also goes through the real ``gameday``
command, to check the last step (one stderr line, exit 2, no traceback) end to end.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chaos_fuzz import (
    EXAMPLES,
    FUZZ_SETTINGS,
    REPO,
    Tally,
    damaged_journal,
    damaged_markdown,
    damaged_yaml,
)
from gameday_testkit import SHIPPED_RUNBOOK, TEAM_RUNBOOK, mojibake
from hypothesis import given, settings

from gameday.errors import GamedayError
from gameday.files import load_any
from gameday.runbook import load_runbook

GAMEDAY = str(Path(sys.executable).with_name("gameday"))
REPORT_STORIES = int(os.environ.get("GAMEDAY_FUZZ_REPORT_STORIES", "15"))
SCENARIOS = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((REPO / "scenarios").glob("*.yaml"))]
POLICIES = [yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted((REPO / "scenarios" / "policies").glob("*.yaml"))]  # fmt: skip
SWEEPS = []
for _sweep in sorted((REPO / "scenarios" / "sweeps").glob("*.yaml")):
    _doc = yaml.safe_load(_sweep.read_text(encoding="utf-8"))
    _doc["policy"] = str((_sweep.parent / _doc["policy"]).resolve())  # the fuzzed copy lives elsewhere
    SWEEPS.append(_doc)
RUNBOOKS = [
    SHIPPED_RUNBOOK.read_text(encoding="utf-8"),
    # the team's real file, mojibake and all, when ../shared is beside the clone; else the shipped one damaged alike
    TEAM_RUNBOOK.read_text(encoding="utf-8") if TEAM_RUNBOOK.exists()
    else mojibake(SHIPPED_RUNBOOK.read_text(encoding="utf-8")),
]
JOURNALS = [[json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
            for p in sorted((REPO / "tests" / "scoring" / "fixtures").glob("*.jsonl"))]  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def cached_runbooks() -> Iterator[None]:
    """Parse each runbook file once: the journal and sweep fuzz target those files, not the markdown
    parser (which has its own fuzz test below), and a parse per input would cost minutes."""
    from gameday.runbook import load_runbook as original
    from gameday.scoring import engine
    from sim.sweep import plan

    @functools.lru_cache(maxsize=8)
    def load(path: str | None = None, _stamp: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
        return original(path)

    def cached(path: str | Path | None = None):  # type: ignore[no-untyped-def]
        if path is None:
            return load(None)
        stat = Path(path).stat()
        return load(str(path), (stat.st_mtime_ns, stat.st_size))

    engine.load_runbook = plan.load_runbook = cached
    try:
        yield
    finally:
        engine.load_runbook = plan.load_runbook = original


def cli_refuses(*args: str) -> str:
    """The real command: exit 2, exactly one line on stderr, no traceback; returns that line."""
    done = subprocess.run([GAMEDAY, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GAMEDAY_NO_RECOVERY": "1"})  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, f"gameday {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert len(lines) == 1, f"expected one error line, got:\n{done.stderr}"
    return lines[0]


class CliSample:
    """Sends the first refused input of a fuzz run through the real command (once per test)."""

    def __init__(self) -> None:
        self.checked = False

    def maybe(self, outcome: str, path: Path, *args: str) -> None:
        if outcome == "refused" and not self.checked:
            self.checked = True
            line = cli_refuses(*args)
            assert str(path) in line, f"the command's error does not name {path}: {line}"


# -- scenario, policy, runbook -----------------------------------------------------------------------------


def test_fuzzed_scenarios_are_refused_in_one_line(workdir: Path) -> None:
    tally, sample = Tally("scenario"), CliSample()
    path = workdir / "scenario.yaml"

    @FUZZ_SETTINGS
    @given(damaged_yaml(SCENARIOS))
    def run(content: bytes) -> None:
        path.write_bytes(content)
        sample.maybe(tally.check(path, lambda: load_any(path)), path, "validate", str(path))

    run()
    assert tally.counts["refused"] > tally.counts["inputs"] // 2, tally.counts
    assert sample.checked
    tally.record()


def test_fuzzed_policies_are_refused_in_one_line(workdir: Path) -> None:
    """The simulator's own validation path: the file, then the policy against the runbook it runs on."""
    from sim.model import compile_model
    from sim.policy import load_policy

    runbook = load_runbook()
    tally, sample = Tally("policy"), CliSample()
    path = workdir / "policy.yaml"

    def validate() -> None:
        load_any(path)
        policy = load_policy(str(path))
        try:
            compile_model(policy, runbook)
        except GamedayError as exc:  # the command names the file (sim.model.compile_named); so do we
            from gameday.errors import InputError

            if isinstance(exc, InputError) and exc.path is None:
                raise InputError(path, exc.field, exc.problem) from None
            raise

    @FUZZ_SETTINGS
    @given(damaged_yaml(POLICIES))
    def run(content: bytes) -> None:
        path.write_bytes(content)
        sample.maybe(tally.check(path, validate), path, "simulate", "--incidents", "50", "--policy", str(path))

    run()
    assert tally.counts["refused"] > tally.counts["inputs"] // 2, tally.counts
    tally.record()


def test_fuzzed_runbooks_are_refused_in_one_line(workdir: Path) -> None:
    tally, sample = Tally("runbook"), CliSample()
    path = workdir / "runbook.md"

    @FUZZ_SETTINGS
    @given(damaged_markdown(RUNBOOKS))
    def run(content: bytes) -> None:
        path.write_bytes(content)
        sample.maybe(tally.check(path, lambda: load_runbook(path)), path, "runbook", "show", str(path))

    run()
    assert tally.counts["refused"] > 0, tally.counts
    tally.record()


def test_fuzzed_sweeps_are_refused_in_one_line(workdir: Path, cached_runbooks: None) -> None:
    """What ``gameday sweep FILE`` checks before any work: the file, the base policy, every grid point."""
    from sim.sweep.plan import make_plan
    from sim.sweep.spec import load_sweep

    tally, sample = Tally("sweep"), CliSample()
    path = workdir / "sweep.yaml"

    @FUZZ_SETTINGS
    @given(damaged_yaml(SWEEPS))
    def run(content: bytes) -> None:
        path.write_bytes(content)
        outcome = tally.check(path, lambda: make_plan(load_sweep(path)))
        sample.maybe(outcome, path, "sweep", str(path), "--incidents", "10", "--replications", "1",
                     "--out", str(workdir / "sweep-out.csv"))

    run()
    assert tally.counts["refused"] > tally.counts["inputs"] // 2, tally.counts
    tally.record()


# -- journals given to score and report --------------------------------------------------------------------


def test_fuzzed_journals_are_scored_or_refused_in_one_line(workdir: Path, cached_runbooks: None) -> None:
    """Half the inputs break a line, half keep every line valid and tell an odd story (wrong types in
    the data the scorer reads, times out of order or out of the calendar, events doubled or dropped)."""
    from gameday.scoring.engine import score_journal
    from gameday.scoring.junit import write_junit

    tally, sample = Tally("journal-score"), CliSample()
    path, junit = workdir / "journal.jsonl", workdir / "score.xml"

    def score() -> None:
        write_junit(score_journal(path, None, None), junit)

    for semantic in (False, True):

        @settings(FUZZ_SETTINGS, max_examples=-(-EXAMPLES // 2))
        @given(damaged_journal(JOURNALS, semantic=semantic))
        def run(content: bytes) -> None:
            path.write_bytes(content)
            junit.unlink(missing_ok=True)
            sample.maybe(tally.check(path, score, outputs=(junit,)), path, "score", str(path), "--junit", str(junit))

        run()
    assert tally.counts["refused"] > 0 and tally.counts["accepted"] > 0, tally.counts
    tally.record()


def test_fuzzed_journals_give_a_whole_report_or_none(workdir: Path, cached_runbooks: None) -> None:
    """1,000 inputs break a line in the middle of the file (refused before anything is written); a few
    more (``GAMEDAY_FUZZ_REPORT_STORIES``, 15 in CI) keep every line valid and tell an odd story, which
    goes all the way through the chart and the drafts (about a second each, hence the few)."""
    import shutil

    from gameday.report.build import build_report

    tally, sample = Tally("journal-report"), CliSample()
    path, out = workdir / "report-journal.jsonl", workdir / "report"

    for semantic, examples in ((False, EXAMPLES), (True, REPORT_STORIES)):

        @settings(FUZZ_SETTINGS, max_examples=examples)
        @given(damaged_journal(JOURNALS, semantic=semantic))
        def run(content: bytes) -> None:
            path.write_bytes(content)
            shutil.rmtree(out, ignore_errors=True)
            outcome = tally.check(path, lambda: build_report(journal=path, out=out), outputs=(out,))
            if outcome == "accepted":
                assert {"report.html", "report.md", "timeline.png"} <= {p.name for p in out.iterdir()}
            leftovers = [p.name for p in workdir.iterdir() if p.name.startswith(".report.partial")]
            assert not leftovers, f"staging folders left behind: {leftovers}"
            sample.maybe(outcome, path, "report", str(path), "--out", str(out))

        run()
    assert tally.counts["refused"] >= EXAMPLES * 0.95 and tally.counts["accepted"] > 0, tally.counts
    tally.record()
