"""Terminal output that survives CI logs and pipes: a sensible width when not a terminal, $COLUMNS honoured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.terminal import LOG_WIDTH, make_console

FIXTURES = Path(__file__).resolve().parents[1] / "scoring" / "fixtures"


def test_width_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console().width == LOG_WIDTH  # pytest captures stdout: not a terminal
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100


def _score(env_columns: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if env_columns:
        env["COLUMNS"] = env_columns
    proc = subprocess.run([sys.executable, "-m", "gameday.cli", "score", str(FIXTURES / "early-close.jsonl")],
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    return proc.stdout.splitlines()


def test_score_tables_piped_are_log_wide_and_keep_sentences_whole() -> None:
    lines = _score(None)
    assert max(len(line) for line in lines) <= LOG_WIDTH
    # at 80 columns this feedback was folded into three-word cells; at log width it reads on one line
    assert any("Declared SEV-1, as the scenario called for." in line for line in lines)
    assert any("started → resolved" in line for line in lines)  # every metric names its span


def test_score_tables_honour_columns() -> None:
    assert max(len(line) for line in _score("100")) <= 100


def test_progress_lines_for_logs() -> None:
    import io

    from rich.console import Console

    from gameday.terminal import ProgressLines

    out = io.StringIO()
    now = [100.0]
    progress = ProgressLines("simulating", 1000, unit="incidents", every=10.0,
                             console=Console(file=out, width=80, color_system=None))
    progress._clock = lambda: now[0]
    progress._started, progress._next = 100.0, 110.0
    progress.advance(200)  # 0 s in: quiet
    now[0] = 111.0
    progress.advance(300)  # 11 s in: a line
    now[0] = 115.0
    progress.advance(100)  # 4 s after the last line: quiet
    assert out.getvalue().splitlines() == ["simulating: 500/1,000 incidents (50%) after 11 s"]
