"""``gameday validate``: a file's shape, then its meaning (the names it gives exist), then its PromQL.

What each kind of file is checked for (:mod:`gameday.references` lists the names):

- a YAML file by its ``kind:`` (scenario, policy, sweep, scoring): its model (closed, typed, every number
  finite and in range), then ``check_against(runbook)`` when the kind has one (the names the runbook must
  have), then ``promql_fields()`` through promtool (:mod:`gameday.promql`);
- a runbook (``.md``): it parses, the severities it names are its own, its PromQL parses;
- a journal (``.jsonl``): every line is an event, and the names it gives are the runbook's (the runbook the
  journal names, as ``gameday score`` reads it, or ``--runbook``).

Names are checked against ``--runbook`` (default: the shipped runbook); a sweep checks its policy against the
runbook the sweep names.  Every failure is an :class:`~gameday.errors.InputError` naming the file and the
field, which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from gameday.errors import InputError

if TYPE_CHECKING:
    from gameday.runbook.model import Runbook

T = TypeVar("T")
RUNBOOK_SUFFIXES = {".md", ".markdown"}
JOURNAL_SUFFIXES = {".jsonl"}


def in_file(path: str | Path, check: Callable[[], T]) -> T:
    """Run ``check``; an :class:`InputError` that names no file is given ``path``."""
    try:
        return check()
    except InputError as exc:
        if exc.path is None:
            raise type(exc)(path, exc.field, exc.problem) from None
        raise


class Validator:
    """Validates files one by one against one runbook, loaded once (and promtool run once per new query)."""

    def __init__(self, runbook: str | Path | None = None, *, promql: bool = True) -> None:
        self.runbook_path = runbook
        self.promql = promql

    @cached_property
    def runbook(self) -> Runbook:
        from gameday.runbook import load_runbook

        runbook = load_runbook(self.runbook_path)
        if self.runbook_path is not None:  # a runbook the user gives is checked whole, PromQL included
            self._runbook_promql(Path(self.runbook_path), runbook)
        return runbook

    def validate(self, path: str | Path) -> str:
        """Check one file; returns what it is (``scenario connection-pool-leak``) or raises an InputError."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in RUNBOOK_SUFFIXES:
            return self._runbook_file(path)
        if suffix in JOURNAL_SUFFIXES:
            return self._journal(path)
        from gameday.files import load_any

        model = load_any(path)
        check = getattr(model, "check_against", None)
        if callable(check):
            in_file(path, lambda: check(self.runbook))
        fields = getattr(model, "promql_fields", None)
        if self.promql and callable(fields):
            from gameday import promql

            promql.check(promql.Query(path, field, expr) for field, expr in fields())
        return f"{getattr(model, 'kind', type(model).__name__)} {getattr(model, 'name', '')}".strip()

    def _runbook_file(self, path: Path) -> str:
        from gameday.runbook import load_runbook

        runbook = load_runbook(path)  # parses and checks the severities it names (gameday.references)
        self._runbook_promql(path, runbook)
        return f"runbook {runbook.title!r}: {len(runbook.severities)} severities, {len(runbook.roles)} roles"

    def _runbook_promql(self, path: Path, runbook: Runbook) -> None:
        if not self.promql:
            return
        from gameday import promql

        text = path.read_bytes().decode("utf-8", errors="replace")
        promql.check(promql.Query(path, field, expr) for field, expr in promql.runbook_queries(runbook, text))

    def _journal(self, path: Path) -> str:
        from gameday.journal import journal_meta, read_journal
        from gameday.references import check_journal
        from gameday.scoring.engine import resolve_runbook

        events = read_journal(path)
        if self.runbook_path is not None:
            runbook = self.runbook
        else:
            runbook = resolve_runbook(None, journal_meta(events), path.parent)
        check_journal(events, runbook, path)
        incidents = len({e.incident for e in events})
        return f"journal: {len(events)} events, {incidents} incident(s)"
