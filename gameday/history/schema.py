"""The history store's tables and their migrations: one numbered list, applied in order, each in a transaction.

A store records its version in ``meta``; a store from an older gameday is migrated when it is opened for
writing, one from a newer gameday is refused (nothing is changed), so a team can share one file across
upgrades without losing it.
"""

from __future__ import annotations

from typing import Any

#: Version N holds every statement of MIGRATIONS[:N].
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: journals (drills, imported incidents, simulated baselines), their events, incidents, metrics, checks
    (
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        """CREATE TABLE journals (
            key VARCHAR PRIMARY KEY, content_hash VARCHAR NOT NULL, source VARCHAR NOT NULL,
            kind VARCHAR NOT NULL, name VARCHAR, path VARCHAR, team VARCHAR, scenario VARCHAR,
            events INTEGER NOT NULL, added_at TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE events (
            key VARCHAR NOT NULL, incident VARCHAR NOT NULL, seq INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL,
            t DOUBLE NOT NULL, runbook_minutes DOUBLE NOT NULL, type VARCHAR NOT NULL, actor VARCHAR NOT NULL,
            data VARCHAR NOT NULL)""",
        """CREATE TABLE incidents (
            key VARCHAR NOT NULL, incident VARCHAR NOT NULL, kind VARCHAR NOT NULL, source VARCHAR NOT NULL,
            started_at TIMESTAMPTZ NOT NULL, month VARCHAR NOT NULL, severity VARCHAR, team VARCHAR,
            scenario VARCHAR, fault VARCHAR, score DOUBLE, compliant BOOLEAN, PRIMARY KEY (key, incident))""",
        """CREATE TABLE metrics (
            key VARCHAR NOT NULL, incident VARCHAR NOT NULL, metric VARCHAR NOT NULL, minutes DOUBLE,
            PRIMARY KEY (key, incident, metric))""",
        """CREATE TABLE checks (
            key VARCHAR NOT NULL, incident VARCHAR NOT NULL, check_id VARCHAR NOT NULL, title VARCHAR NOT NULL,
            status VARCHAR NOT NULL)""",
        """CREATE TABLE roles (
            key VARCHAR NOT NULL, incident VARCHAR NOT NULL, role VARCHAR NOT NULL, person VARCHAR NOT NULL)""",
    ),
    # 2: post-incident reviews and their action items, tracked until done
    (
        """CREATE TABLE reviews (
            incident VARCHAR PRIMARY KEY, content_hash VARCHAR NOT NULL, path VARCHAR, title VARCHAR,
            root_cause VARCHAR, added_at TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE action_items (
            id VARCHAR PRIMARY KEY, incident VARCHAR NOT NULL, number INTEGER NOT NULL, action VARCHAR NOT NULL,
            owner VARCHAR, due DATE, priority VARCHAR, status VARCHAR NOT NULL, closed_at TIMESTAMPTZ,
            closed_by VARCHAR)""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: The table every gameday store has from version 1 on (its absence in a non-empty file: not a store).
META = "meta"


def tables(con: Any) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def version_of(con: Any) -> int | None:
    """The store's schema version: 0 for an empty database, None when it holds tables but is no gameday store."""
    found = tables(con)
    if not found:
        return 0
    if META not in found:
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def migrate(con: Any, current: int, upto: int = SCHEMA_VERSION) -> int:
    """Apply the migrations after ``current`` up to ``upto`` in one transaction; returns the new version."""
    if current >= upto:
        return current
    con.execute("BEGIN TRANSACTION")
    try:
        for statements in MIGRATIONS[current:upto]:
            for statement in statements:
                con.execute(statement)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(upto)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return upto
