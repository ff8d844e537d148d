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
