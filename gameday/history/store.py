"""The incident history: one DuckDB file the drills, imports and reviews share.

Where: ``--history PATH``, else ``$GAMEDAY_HISTORY``, else ``$GAMEDAY_STATE_DIR/history.duckdb`` (the state folder
the drills use, default ``~/.local/state/gameday``).  DuckDB lets one process write a file at a time, and several
drills may end at once: every opening takes a lock file beside the store first (``flock``: exclusive to write,
shared to read) and waits for it, so writers queue instead of failing.  Every batch is one transaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gameday.errors import GamedayError, InputError
from gameday.history.ingest import JournalRecord, ReviewRecord, event_frame
from gameday.history.schema import SCHEMA_VERSION, migrate, version_of

HISTORY_ENV = "GAMEDAY_HISTORY"
STATE_ENV = "GAMEDAY_STATE_DIR"  # the drills' state folder (drills/state.py), read here without importing them
LOCK_TIMEOUT_S = float(os.environ.get("GAMEDAY_HISTORY_LOCK_TIMEOUT", "120"))


def default_path() -> Path:
    """``$GAMEDAY_HISTORY``, else ``$GAMEDAY_STATE_DIR/history.duckdb``, else ``~/.local/state/gameday/...``."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV])
    state = os.environ.get(STATE_ENV) or Path.home() / ".local" / "state" / "gameday"
    return Path(state) / "history.duckdb"


class StoreBusy(GamedayError):
    """Another process held the store longer than the lock timeout."""


@dataclass
class Added:
    """What one input did to the store, for the one line the CLI prints per file."""

    path: str
    what: str  # added | updated | already stored
    detail: str


class HistoryStore:
    """Open with :meth:`writing` / :meth:`reading`; each yields a DuckDB connection under the store's lock."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout: float = LOCK_TIMEOUT_S) -> None:
        self.path = Path(path) if path else default_path()
        self.lock_timeout = lock_timeout

    # -- opening -------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(self.path, None, f"cannot open the store's lock: {exc.strerror or exc}") from None
        try:
            deadline = time.monotonic() + self.lock_timeout
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreBusy(f"{self.path}: busy for {self.lock_timeout:g} s (another gameday holds "
                                        f"{lock_path.name}); try again") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the flock

    def _connect(self, read_only: bool) -> Any:
        """A DuckDB connection; one that fails (not a DuckDB file, a newer DuckDB's file) is one line."""
        import duckdb

        for attempt in range(20):
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:  # a process that does not use our lock file holds it
                if "lock" not in str(exc).lower() or attempt == 19:
                    raise self._unreadable(exc) from None
                time.sleep(0.1 * (attempt + 1))
            except duckdb.Error as exc:
                raise self._unreadable(exc) from None
        raise AssertionError("unreachable")

    def _unreadable(self, exc: Exception) -> InputError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return InputError(self.path, None, f"not a readable gameday history store, left as it is ({first})")

    def _checked_version(self, con: Any) -> int:
        version = version_of(con)
        if version is None:
            con.close()
            raise InputError(self.path, None, "not a gameday history store (a DuckDB file without gameday's "
                                              "tables); left as it is")
        if version > SCHEMA_VERSION:
            con.close()
            raise InputError(self.path, "schema_version", f"{version} is newer than this gameday reads "
                                                          f"({SCHEMA_VERSION}); upgrade gameday, the store is "
                                                          "left as it is")
        return version

    @contextlib.contextmanager
    def writing(self) -> Iterator[Any]:
        """A read-write connection under the exclusive lock; an older store is migrated first."""
        with self._locked(exclusive=True):
            con = self._connect(read_only=False)
            try:
                migrate(con, self._checked_version(con))
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only connection under a shared lock (several readers at once); a missing store is an error
        naming it, an older one is migrated (under the exclusive lock) first."""
        if not self.path.exists():
            raise InputError(self.path, None, "no history store here yet (fill it: gameday history add "
                                              "JOURNAL…, gameday history import TIMELINE.md…)")
        with self._locked(exclusive=False):
            con = self._connect(read_only=True)
            stale = self._checked_version(con) < SCHEMA_VERSION
            if not stale:
                try:
                    yield con
                finally:
                    con.close()
                return
            con.close()
        with self.writing():
            pass
        with self.reading() as con:
            yield con

    # -- writing -------------------------------------------------------------------------------------------

    def add(self, journals: Sequence[JournalRecord] = (), reviews: Sequence[ReviewRecord] = (),
            now: datetime | None = None) -> list[Added]:
        """Store journals, imported timelines and reviews in one transaction (all or nothing)."""
        now = now or datetime.now(UTC)
        done: list[Added] = []
        with self.writing() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                done += [self._add_journal(con, record, now) for record in journals]
                done += [self._add_review(con, review, now) for review in reviews]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return done

    def _add_journal(self, con: Any, record: JournalRecord, now: datetime) -> Added:
        found = con.execute("SELECT content_hash, events FROM journals WHERE key = ?", [record.key]).fetchone()
        what = "added"
        if found is not None:
            if found[0] == record.content_hash:
                return Added(record.path, "already stored", f"{record.kind} {record.name}")
            if len(record.events) <= found[1] and not record.key.startswith("timeline:"):
                return Added(record.path, "already stored", f"{record.kind} {record.name} (a longer version)")
            for table in ("journals", "events", "incidents", "metrics", "checks", "roles"):
                con.execute(f"DELETE FROM {table} WHERE key = ?", [record.key])
            what = "updated"
        con.execute("INSERT INTO journals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [record.key, record.content_hash, record.source, record.kind, record.name,
                     str(Path(record.path).resolve()), record.team, record.scenario, len(record.events), now])
        event_rows = event_frame(record)  # noqa: F841 - DuckDB reads the DataFrame by its name
        con.execute("INSERT INTO events SELECT * FROM event_rows")
        for inc in record.incidents:
            con.execute("INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [record.key, inc.incident, record.kind, record.source, inc.started_at, inc.month,
                         inc.severity, record.team, record.scenario, inc.fault, inc.score, inc.compliant])
        metrics = [(record.key, i.incident, m, v) for i in record.incidents for m, v in i.metrics.items()]
        checks = [(record.key, i.incident, *c) for i in record.incidents for c in i.checks]
        roles = [(record.key, i.incident, *r) for i in record.incidents for r in i.roles]
        if metrics:
            con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", metrics)
        if checks:
            con.executemany("INSERT INTO checks VALUES (?, ?, ?, ?, ?)", checks)
        if roles:
            con.executemany("INSERT INTO roles VALUES (?, ?, ?, ?)", roles)
        count = len(record.incidents)
        return Added(record.path, what, f"{record.kind} {record.name}: {count} incident{'s' * (count != 1)}")

    def _add_review(self, con: Any, review: ReviewRecord, now: datetime) -> Added:
        from gameday.history.actions import store_actions

        found = con.execute("SELECT content_hash FROM reviews WHERE incident = ?", [review.incident]).fetchone()
        if found is not None and found[0] == review.content_hash:
            return Added(review.path, "already stored", f"review of {review.incident}")
        con.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?, ?)",
                    [review.incident, review.content_hash, str(Path(review.path).resolve()), review.title,
                     review.root_cause, now])
        closed = store_actions(con, review, now)
        extra = f", closed {', '.join(closed)}" if closed else ""
        return Added(review.path, "updated" if found else "added",
                     f"review of {review.incident}: {len(review.actions)} action item(s){extra}")

    # -- reading -------------------------------------------------------------------------------------------

    def frame(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A query's result as a pandas DataFrame (the notebooks' and the reviews' way in)."""
        with self.reading() as con:
            return con.execute(sql, list(params)).df()

    def export_parquet(self, out: Path) -> list[Path]:
        """One Parquet file per table, written beside each other in ``out``."""
        from gameday.history.schema import tables

        out.mkdir(parents=True, exist_ok=True)
        written = []
        with self.reading() as con:
            for table in sorted(tables(con)):
                if not re.fullmatch(r"[a-z_]+", table):
                    continue
                target = out / f"{table}.parquet"
                con.execute(f"COPY {table} TO '{_quoted(target)}' (FORMAT parquet)")
                written.append(target)
        return written


def _quoted(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def today() -> date:
    return datetime.now(UTC).date()
