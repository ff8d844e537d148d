"""Post-incident action items, tracked until done (the runbook: "reviewed in the weekly team meeting until
complete").

Each item gets a short id people can type, ``<incident>-A<n>`` (its row in the review's table).  It is closed by
``gameday history action done ID`` or by a later review whose action table marks it done (a Status column saying
done, on a row naming the item's id or its action).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from gameday.errors import InputError
from gameday.history.ingest import ReviewRecord

OPEN, DONE = "open", "done"


def item_id(incident: str, number: int) -> str:
    return f"{incident}-A{number}"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def store_actions(con: Any, review: ReviewRecord, now: datetime) -> list[str]:
    """Insert or refresh a review's items; close the earlier items its done rows name.  Returns the ids it closed
    of other incidents."""
    closed: list[str] = []
    for item in review.actions:
        ident = item_id(review.incident, item.number)
        found = con.execute("SELECT status FROM action_items WHERE id = ?", [ident]).fetchone()
        status = DONE if item.done or (found is not None and found[0] == DONE) else OPEN
        closed_at, closed_by = (now, f"review {review.incident}") if item.done else (None, None)
        if found is None:
            con.execute("INSERT INTO action_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [ident, review.incident, item.number, item.action, item.owner, item.due_date,
                         item.priority, status, closed_at, closed_by])
        else:
            con.execute("UPDATE action_items SET action = ?, owner = ?, due = ?, priority = ? WHERE id = ?",
                        [item.action, item.owner, item.due_date, item.priority, ident])
            if item.done and found[0] != DONE:
                _close(con, ident, now, f"review {review.incident}")
        if item.done:
            closed += _close_earlier(con, review.incident, item.action, now)
    return closed


def _close_earlier(con: Any, incident: str, action: str, now: datetime) -> list[str]:
    """Open items of other incidents this done row names: by id (``2026-01-24-001-A2``) or by the same action."""
    rows = con.execute("SELECT id, action FROM action_items WHERE status = ? AND incident <> ?",
                       [OPEN, incident]).fetchall()
    text = _norm(action)
    hits = [ident for ident, other in rows
            if re.search(rf"(?<![\w-]){re.escape(ident)}(?![\w-])", action) or _norm(other) == text]
    for ident in hits:
        _close(con, ident, now, f"review {incident}")
    return hits


def _close(con: Any, ident: str, now: datetime, by: str) -> None:
    con.execute("UPDATE action_items SET status = ?, closed_at = ?, closed_by = ? WHERE id = ?",
                [DONE, now, by, ident])


def mark_done(con: Any, ident: str, now: datetime, by: str = "gameday history action done") -> str:
    """Close one item by id; an unknown id names the open ones."""
    found = con.execute("SELECT status FROM action_items WHERE id = ?", [ident]).fetchone()
    if found is None:
        open_ids = [r[0] for r in con.execute("SELECT id FROM action_items WHERE status = ? ORDER BY id",
                                              [OPEN]).fetchall()]
        shown = ", ".join(open_ids[:8]) + (" …" if len(open_ids) > 8 else "") if open_ids else "none"
        raise InputError(None, "ID", f"no action item {ident!r} in the store (open: {shown})")
    if found[0] == DONE:
        return f"{ident}: already done"
    _close(con, ident, now, by)
    return f"{ident}: done"


def open_items(con: Any, today: date) -> list[dict[str, Any]]:
    """Open items, overdue first (most overdue on top), then by due date; undated last."""
    rows = con.execute(
        "SELECT id, incident, action, owner, due, priority FROM action_items WHERE status = ? "
        "ORDER BY (due IS NOT NULL AND due < ?) DESC, due NULLS LAST, id", [OPEN, today]).fetchall()
    out = []
    for ident, incident, action, owner, due, priority in rows:
        overdue = (today - due).days if due is not None and due < today else 0
        out.append({"id": ident, "incident": incident, "action": action, "owner": owner or "—",
                    "due": due.isoformat() if due else None, "priority": priority or "", "overdue_days": overdue})
    return out
