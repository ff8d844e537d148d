"""Start and stop Locust in a subprocess (its own session, so it can be stopped as a group).

Stats go to ``<out_dir>/locust_stats.csv`` (and ``_stats_history``, ``_failures``, ``_exceptions``) when
Locust stops, plus ``locust.log``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gameday.errors import SafetyError, TargetError
from gameday.scenario import LoadShape

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LoadHandle:
    """A running Locust.  ``stop()`` is idempotent and waits for the CSV files."""

    def __init__(self, proc: subprocess.Popen[bytes], out_dir: Path) -> None:
        self.proc = proc
        self.out_dir = out_dir

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # Locust writes its CSVs on SIGTERM
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def stats(self) -> dict[str, Any]:
        """The "Aggregated" row of the stats CSV (after stop): requests, failures, RPS, percentiles."""
        path = self.out_dir / "locust_stats.csv"
        if not path.exists():
            return {}
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("Name") == "Aggregated":
                    return row
        return {}


def start_load(shape: LoadShape, host: str, out_dir: str | Path, duration_s: float | None = None,
               extra_args: list[str] | None = None) -> LoadHandle:
    """Run Locust against ``host`` (loopback only) until ``duration_s`` or ``stop()``."""
    url = urlparse(host)
    if url.hostname not in LOOPBACK:
        raise SafetyError(f"load only ever goes to loopback addresses, not {host!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GAMEDAY_LOAD_SHAPE": json.dumps({**shape.model_dump(mode="json"),
                                                           "duration_s": duration_s})}
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host.rstrip("/"),
           "--csv", str(out / "locust"), "--csv-full-history", "--logfile", str(out / "locust.log"),
           "--loglevel", "WARNING", "--only-summary", "--stop-timeout", "2", "--exit-code-on-error", "0",
           *(extra_args or [])]
    log = open(out / "locust.out", "ab")  # noqa: SIM115 - owned by the child from here on
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        raise TargetError(f"cannot start Locust: {exc}") from None
    finally:
        log.close()
    return LoadHandle(proc, out)
