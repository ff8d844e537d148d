"""One error root, so the CLI can turn every expected failure into one line and exit code 2.

Anything that is *not* a GamedayError is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class GamedayError(Exception):
    """A failure the user can act on; its message is the whole story (no traceback), on one line."""

    exit_code = 2

    def __str__(self) -> str:
        return one_line(Exception.__str__(self))


def one_line(text: str) -> str:
    """Control characters (a YAML key with a newline, a tab in a value) shown escaped, so an error stays
    one line whatever the input held."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class InputError(GamedayError):
    """A file the user gave us is wrong: names the file, the field and the problem."""

    def __init__(self, path: str | Path | None, field: str | None, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.field = field
        self.problem = problem
        where = self.path or "<input>"
        if field:
            where = f"{where}: {field}"
        super().__init__(f"{where}: {problem}")


class RunbookError(InputError):
    """The runbook markdown lacks a section or holds a value we cannot read."""


class RunbookLookupError(RunbookError, KeyError):
    """A name the runbook does not have (severity, role, workflow node), asked for by code or by a user.

    Also a ``KeyError``, so mapping-style callers that catch ``KeyError`` keep working; the message
    names the runbook, what was looked up and what the runbook has instead.
    """

    def __init__(self, source: str | Path | None, what: str, name: object, known: list[str]) -> None:
        self.name = name
        choices = f" (the runbook has {', '.join(known)})" if known else ""
        super().__init__(source or "runbook", what, f"no {what} {name!r}{choices}")

    __str__ = GamedayError.__str__  # KeyError would quote the whole message


class JournalError(InputError):
    """A journal line is not a valid event."""


class SafetyError(GamedayError):
    """A guardrail refused an action (unknown kube context, fault left behind, ...)."""


class TargetError(GamedayError):
    """A drill target (sandbox or cluster) failed to do what was asked."""


def from_validation_error(path: str | Path | None, exc: ValidationError) -> InputError:
    """Turn pydantic's multi-line report into one line naming the first bad field."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    # a validator's own ValueError reads "Value error, <its message>": the message is the problem
    problem = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    extra = len(exc.errors()) - 1
    if extra:
        problem = f"{problem} (and {extra} more problem{'s' if extra > 1 else ''})"
    return InputError(path, field, problem)
