"""PromQL checked with Prometheus's own parser: ``promtool check rules`` on a generated rules file.

Every expression gameday takes from a user (a scenario's probes, a runbook's PromQL blocks, its
verification query and the PromQL lines of its shell blocks) goes through :func:`check`: all of them are
written as recording rules into one temporary file, ``promtool`` is run once, and its first complaint is
mapped back to the file and field the expression came from, in one line.  Answers are remembered per
expression for the life of the process, so a second file with the same probes costs nothing.

``promtool`` is Debian's ``prometheus`` package's (``make setup`` installs it, CI too); ``$GAMEDAY_PROMTOOL``
names another.  Without it, :func:`check` refuses in one line rather than pass what it cannot check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from gameday.errors import GamedayError, InputError

if TYPE_CHECKING:
    from gameday.runbook.model import Runbook

PROMTOOL_ENV = "GAMEDAY_PROMTOOL"
#: promtool's own limit is far above this; an expression longer than a page is not a probe.
MAX_EXPRESSION = 10_000
#: ``rules.yml: 7:11: group "gameday", rule 2, "gameday_check_1": could not parse expression: 1:34: parse
#: error: unclosed left parenthesis``
_COMPLAINT = re.compile(r'rule (\d+), "[^"]*": (.*)$')
_RECORD = "gameday_check_{}"

_answers: dict[str, str | None] = {}  # expression -> promtool's complaint, None when it parses


@dataclass(frozen=True)
class Query:
    """One expression and where it came from."""

    path: str | Path | None
    field: str
    expr: str


class PromtoolMissing(GamedayError):
    """promtool is not installed: the PromQL cannot be checked."""


def promtool() -> str:
    """The promtool to run, or :class:`PromtoolMissing` saying how to get one."""
    named = os.environ.get(PROMTOOL_ENV)
    found = named or shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").is_file() else None)
    if not found or not Path(found).is_file():
        where = f"{PROMTOOL_ENV}={named!r} is not a file" if named else "promtool is not installed"
        raise PromtoolMissing(f"cannot check PromQL: {where} (apt-get install prometheus, as make setup does; "
                              f"or set {PROMTOOL_ENV})")
    return found


def problems(expressions: Iterable[str]) -> dict[str, str | None]:
    """promtool's complaint about each expression (None: it parses), one promtool run for the new ones."""
    wanted = list(dict.fromkeys(expressions))
    new = [e for e in wanted if e not in _answers]
    for expr in new:
        local = _local_problem(expr)
        if local is not None:
            _answers[expr] = local
    new = [e for e in new if e not in _answers]
    if new:
        _answers.update(_run_promtool(new))
    return {e: _answers[e] for e in wanted}


def _local_problem(expr: str) -> str | None:
    """What is wrong before promtool needs to look (it would say less clearly)."""
    if not expr.strip():
        return "empty expression"
    if len(expr) > MAX_EXPRESSION:
        return f"longer than {MAX_EXPRESSION} characters"
    if "\x00" in expr:
        return "holds a NUL character"
    return None


def _run_promtool(expressions: list[str]) -> dict[str, str | None]:
    tool = promtool()
    rules = {"groups": [{"name": "gameday", "rules": [
        {"record": _RECORD.format(i), "expr": expr} for i, expr in enumerate(expressions)]}]}
    with tempfile.TemporaryDirectory(prefix="gameday-promql-") as folder:
        path = Path(folder) / "rules.yml"
        path.write_text(yaml.safe_dump(rules, allow_unicode=True, width=1 << 20), encoding="utf-8")
        try:
            done = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True,
                                  errors="replace", timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise GamedayError(f"cannot check PromQL: {tool} failed to run ({exc})") from None
    answers: dict[str, str | None] = dict.fromkeys(expressions)
    complained = False
    for line in (done.stdout + "\n" + done.stderr).splitlines():
        match = _COMPLAINT.search(line)
        if match and 1 <= int(match.group(1)) <= len(expressions):
            expr = expressions[int(match.group(1)) - 1]
            answers[expr] = answers[expr] or _plain(match.group(2))
            complained = True
    if done.returncode != 0 and not complained:
        # promtool refused the file without naming a rule: say what it said (first line), for every expression
        said = next((ln.strip() for ln in (done.stderr + "\n" + done.stdout).splitlines()
                     if ln.strip() and not ln.startswith("Checking")), f"exit {done.returncode}")
        raise GamedayError(f"cannot check PromQL: promtool refused the rules file: {said}")
    return answers


def _plain(complaint: str) -> str:
    """promtool's words without its own prefix: ``1:34: parse error: unclosed left parenthesis``."""
    return complaint.removeprefix("could not parse expression: ").strip()


def check(queries: Iterable[Query]) -> None:
    """Every expression parses with Prometheus's parser; else an :class:`InputError` naming the file and
    field of the first that does not, with promtool's words."""
    queries = list(queries)
    if not queries:
        return
    found = problems(q.expr for q in queries)
    for query in queries:
        problem = found[query.expr]
        if problem is not None:
            raise InputError(query.path, query.field, f"PromQL does not parse: {problem}")


def runbook_queries(runbook: Runbook, text: str | None = None) -> list[tuple[str, str]]:
    """``(field, expression)`` for every PromQL expression of a runbook: each expression of its ``promql``
    fences (``text``, its markdown: blank and ``#`` comment lines separate expressions, the lines between make
    one), each PromQL line of its shell blocks, and the verification step's error-rate query."""
    out: list[tuple[str, str]] = []
    if text is not None:
        from gameday.runbook.markdown import parse_sections, repair

        for section in parse_sections(repair(text)).walk():
            for token in section.tokens:  # the section's own tokens: each fence once
                if token.type != "fence" or token.info.strip().lower() != "promql":
                    continue
                first = token.map[0] + 2 if token.map else 0  # the fence's first line of code, 1-based
                current: list[str] = []
                start = first
                for offset, line in enumerate([*token.content.splitlines(), ""]):
                    stripped = line.strip()
                    if stripped and not stripped.startswith("#"):
                        if not current:
                            start = first + offset
                        current.append(stripped)
                    elif current:
                        out.append((f"line {start} ({section.title}, promql block)", " ".join(current)))
                        current = []
    for command in runbook.commands:
        if command.tool.value == "promql":
            out.append((f"line {command.line} ({command.section})", command.text))
    if runbook.verification.error_rate_query:
        out.append(("verification: error-rate query", runbook.verification.error_rate_query))
    return out
