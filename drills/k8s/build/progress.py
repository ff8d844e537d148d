"""Progress lines for long build and cluster steps, and commands whose output goes to a log file.

Why: a cold ``gameday cluster up`` runs for many minutes (Go builds, debootstrap, image imports).  Each
stage prints one line when it starts and one when it ends (with its time), a heartbeat while it runs, and
on failure the log's last lines and its path — never a silent wait, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gameday.errors import TargetError

#: Seconds between "still running" lines of a long command.
HEARTBEAT_S = float(os.environ.get("GAMEDAY_PROGRESS_HEARTBEAT", "30"))


@dataclass
class Progress:
    """Prints through ``echo`` (the CLI's stderr console; tests pass a list's append) and keeps stage times."""

    echo: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    prefix: str = "cluster up"
    times: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, text: str) -> None:
        with self._lock:
            self.echo(f"[{time.strftime('%H:%M:%S')}] {self.prefix}: {text}")

    @contextmanager
    def stage(self, key: str, text: str | None = None) -> Iterator[None]:
        """``with progress.stage("node image", "node image gameday/kind-node:..."):`` — start and end lines;
        the time is kept under the stable ``key`` (``text`` is what the lines say, default the key)."""
        text = text or key
        start = time.monotonic()
        self.say(f"{text} ...")
        try:
            yield
        except BaseException:
            self.times[key] = time.monotonic() - start
            self.say(f"{text} failed after {self.times[key]:.0f} s")
            raise
        self.times[key] = time.monotonic() - start
        self.say(f"{text} done in {self.times[key]:.0f} s")

    def cached(self, key: str, what: str) -> None:
        self.times.setdefault(key, 0.0)
        self.say(f"{key}: cached ({what})")

    def record(self, path: Path, since: dict[str, float] | None = None) -> None:
        """Keep the times of stages that really ran (a cold build's figures survive warm runs: make bench);
        ``since``: a copy of :attr:`times` taken before the build, whose stages (a cluster deleted first) are not
        the build's."""
        import json

        before = since or {}
        built = {name: round(seconds, 1) for name, seconds in self.times.items()
                 if seconds >= 1.0 and before.get(name) != seconds}  # fmt: skip
        if not built:
            return
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        known.update({name: {"seconds": s, "at": time.strftime("%Y-%m-%dT%H:%M:%S")} for name, s in built.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def run_logged(argv: Sequence[str | Path], log: Path, what: str, progress: Progress, *,
               env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 3600.0) -> None:
    """Run ``argv`` with its output appended to ``log``; heartbeat lines while it runs; one-line error."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(map(str, argv))}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                    env={**os.environ, **(env or {})})
        except FileNotFoundError:
            raise TargetError(f"{what}: {argv[0]} not found") from None
        next_beat = start + HEARTBEAT_S
        while True:
            try:
                code = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if now - start > timeout:
                    proc.kill()
                    proc.wait()
                    raise TargetError(f"{what}: no result after {timeout:.0f} s (log: {log})") from None
                if now >= next_beat:
                    progress.say(f"  ... still {what} ({now - start:.0f} s)")
                    next_beat = now + HEARTBEAT_S
            except BaseException:
                proc.kill()  # Ctrl-C: stop the build, leave no orphan
                proc.wait()
                raise
    if code != 0:
        raise TargetError(f"{what} failed (exit {code}): {tail(log)} (full log: {log})")


def tail(log: Path, lines: int = 4) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])
