"""Consoles that read well in a terminal *and* in a CI log or behind ``| tee``.

Rich sizes its output to the terminal; without one it falls back to 80 columns, which folds every drill
narration line in two and squeezes table cells to a few words.  Every gameday command makes its consoles
here: the terminal's width when there is one, ``$COLUMNS`` when set, else :data:`LOG_WIDTH`.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Width when writing to a file or a pipe and ``$COLUMNS`` is not set: a CI log line, not a phone screen.
LOG_WIDTH = 160


def make_console(*, stderr: bool = False, quiet: bool = False, highlight: bool = False) -> Console:
    """A rich Console for ``stdout`` (or ``stderr``) with a sensible width when it is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS", "").isdigit() and not _is_terminal(stream):
        width = LOG_WIDTH
    return Console(stderr=stderr, quiet=quiet, highlight=highlight, width=width)


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class ProgressLines:
    """Progress for logs: a line on stderr at most every ``every`` seconds (a bar needs a terminal).

    ``advance(n)`` adds done work; ``line(text)`` prints one now.  So a CI log of a long step shows it moving.
    """

    def __init__(self, what: str, total: float | None = None, *, unit: str = "", every: float = 10.0,
                 console: Console | None = None) -> None:
        import time

        self.what, self.total, self.unit, self.every = what, total, unit, every
        self.console = console or make_console(stderr=True)
        self.done = 0.0
        self._clock = time.monotonic
        self._started = self._clock()
        self._next = self._started + every

    def advance(self, amount: float = 1.0, detail: str = "") -> None:
        self.done += amount
        if self._clock() >= self._next:
            self._next = self._clock() + self.every
            self.line(detail)

    def line(self, detail: str = "") -> None:
        elapsed = self._clock() - self._started
        done = f"{self.done:,.0f}" + (f"/{self.total:,.0f}" if self.total else "")
        done += f" {self.unit}" if self.unit else ""
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        extra = f", {detail}" if detail else ""
        self.console.print(f"{self.what}: {done}{share} after {elapsed:.0f} s{extra}", soft_wrap=True, highlight=False)
