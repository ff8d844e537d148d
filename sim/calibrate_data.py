"""What calibration measures: per incident, the lifecycle intervals and the decisions it shows, each with the weight
of what its record can tell (:mod:`gameday.history.evidence`).

Inputs: journals (``.jsonl``), past incidents' timelines (``.md``, the runbook's "Incident Timeline" table),
incident-history CSVs and the history store.  A record measures an interval only when it has both ends, so a
timeline that starts at its alert informs nothing about detection, and one without an acknowledgement row nothing
about acknowledging or declaring.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.errors import InputError, JournalError
from gameday.history.evidence import weight

#: interval: (start event types, end event types).  Restored, not resolved: that adds the stability watch.
INTERVALS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "detect": (("fault_injected", "incident_started"), ("alert_firing", "detected")),
    "acknowledge": (("alert_firing", "detected"), ("acknowledged",)),
    "declare": (("acknowledged",), ("severity_declared",)),
    "mitigate": (("severity_declared",), ("mitigated",)),
    "verify": (("mitigated",), ("verified",)),
}
CSV_COLUMNS = {
    "start": ("started_at", "start", "fault_injected", "incident_started", "began"),
    "detected": ("detected_at", "detected", "alert_firing"),
    "acknowledged": ("acknowledged_at", "acknowledged", "acked_at"),
    "severity_declared": ("declared_at", "severity_declared", "declared"),
    "mitigated": ("mitigated_at", "mitigated"),
    "restored": ("restored_at", "verified_at", "restored", "verified"),
    "resolved": ("resolved_at", "resolved"),
}
CSV_CHAIN = {
    "detect": ("start", "detected"),
    "acknowledge": ("detected", "acknowledged"),
    "declare": ("acknowledged", "severity_declared"),
    "mitigate": ("severity_declared", "mitigated"),
    "verify": ("mitigated", "restored"),
}  # not resolved: that is the restore plus the stability watch


@dataclass
class Evidence:
    """Every measured interval and decision, with its weight; ``ignored`` counts records that weigh nothing."""

    intervals: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # per incident: severity, mttr, weight
    ignored: dict[str, int] = field(default_factory=dict)

    def extend(self, other: Evidence) -> None:
        self.intervals += other.intervals
        self.decisions += other.decisions
        self.outcomes += other.outcomes
        for why, count in other.ignored.items():
            self.ignored[why] = self.ignored.get(why, 0) + count


def from_events(source: str, kind: str, meta: dict[str, Any], rows: Iterable[tuple[str, str, float, Any]]) -> Evidence:
    """``rows``: (incident, event type, runbook minutes, data) of one journal, in journal order."""
    by_incident: dict[str, list[tuple[str, float, dict[str, Any]]]] = {}
    for incident, kind_of, minutes, data in rows:
        if isinstance(data, str):
            data = json.loads(data) if data else {}
        by_incident.setdefault(incident, []).append((kind_of, float(minutes), data or {}))
    out = Evidence()
    for incident, events in by_incident.items():
        measured = _incident(source, incident, kind, meta, events)
        if measured.intervals and not any(i["weight"] > 0 for i in measured.intervals):
            why = measured.intervals[0]["why"]
            out.ignored[why] = out.ignored.get(why, 0) + 1
        out.extend(measured)
    return out


def _incident(
    source: str, incident: str, kind: str, meta: dict[str, Any], events: list[tuple[str, float, dict[str, Any]]]
) -> Evidence:
    first: dict[str, float] = {}
    severity = None
    for type_, minutes, data in events:
        first.setdefault(type_, minutes)
        if severity is None and type_ in ("severity_declared", "incident_started") and data.get("severity"):
            severity = str(data["severity"])
    out = Evidence()
    for name, (starts, ends) in INTERVALS.items():
        a = min((first[s] for s in starts if s in first), default=None)
        b = min((first[e] for e in ends if e in first), default=None)
        if a is not None and b is not None and b >= a:
            w, why = weight(kind, meta, name)
            out.intervals.append(
                {
                    "source": source,
                    "incident": incident,
                    "kind": kind,
                    "severity": severity,
                    "interval": name,
                    "minutes": b - a,
                    "weight": w,
                    "why": why,
                }
            )
    w, why = weight(kind, meta, "mitigate")
    mttr = _mttr(events)
    if mttr is not None:
        out.outcomes.append(
            {
                "source": source,
                "incident": incident,
                "kind": kind,
                "severity": severity,
                "mttr": mttr,
                "weight": w,
                "why": why,
                "from_start": any(s in first for s in INTERVALS["detect"][0]),
            }
        )
    if "severity_declared" in first:
        after = [(t, m, d) for t, m, d in events if m >= first["severity_declared"]]
        for decision, yes, trials in _decisions(after):
            out.decisions.append(
                {
                    "source": source,
                    "incident": incident,
                    "kind": kind,
                    "decision": decision,
                    "yes": yes,
                    "trials": trials,
                    "weight": w,
                    "why": why,
                }
            )
    return out


def _mttr(events: list[tuple[str, float, dict[str, Any]]]) -> float | None:
    """MTTR as :mod:`gameday.metrics` defines it (started -> resolved)."""
    from gameday.metrics import incident_metrics

    shared = {"journal_started", "metric_sample", "replica_state"}
    own = sorted(((m, t) for t, m, _ in events if t not in shared), key=lambda mt: mt[0])
    value = incident_metrics(own).get("mttr") if own else None
    return None if value is None or value != value else float(value)


def _decisions(events: list[tuple[str, float, dict[str, Any]]]) -> list[tuple[str, float, float]]:
    """The workflow's decisions one declared incident shows, as (policy field, yes, trials): hypotheses before the
    first fix (root cause found on the last of them), the first fix's kind, whether it worked (mitigated before
    any other fix), and whether the service came back after its first verification."""
    actions = [(m, d) for t, m, d in events if t == "action"]
    out: list[tuple[str, float, float]] = []
    if actions:
        fix_at, fix = actions[0]
        hypotheses = sum(1 for t, m, _ in events if t == "hypothesis" and m <= fix_at)
        if hypotheses:
            out.append(("root_cause_probability", 1.0, float(hypotheses)))
        rollback = str(fix.get("kind") or "") == "rollback"
        out.append(("rollback_probability", 1.0 if rollback else 0.0, 1.0))
        mitigated = next((m for t, m, _ in events if t == "mitigated" and m >= fix_at), None)
        if mitigated is not None:
            again = any(fix_at < m < mitigated for m, _ in actions[1:])
            out.append(("rollback_success" if rollback else "hotfix_success", 0.0 if again else 1.0, 1.0))
    verified = next((m for t, m, _ in events if t == "verified"), None)
    if verified is not None:
        back = any(t in ("hypothesis", "action") and m > verified for t, m, _ in events)
        out.append(("recurrence_probability", 1.0 if back else 0.0, 1.0))
    return out


def from_journal(path: Path) -> Evidence:
    from gameday.history.ingest import KINDS
    from gameday.journal import journal_meta, read_journal

    events = read_journal(path)
    meta = journal_meta(events)
    source = str(meta.get("source") or "")
    if source not in KINDS:
        raise JournalError(
            path, "line 1: data.source", f"unknown source {source!r}; expected one of {', '.join(KINDS)}"
        )
    scale = float(meta.get("time_scale") or 1.0)
    rows = ((e.incident, e.type.value, e.t * scale / 60.0, e.data) for e in events)
    return from_events(str(path), KINDS[source], meta, rows)


def from_timeline(path: Path) -> Evidence:
    """A past incident's timeline, read by the importer ``gameday history import`` uses."""
    from gameday.scoring.timeline import timeline_events

    events = timeline_events(path)
    return from_events(
        str(path), "incident", {"time_scale": 1.0}, ((e.incident, e.type.value, e.t / 60.0, e.data) for e in events)
    )


def from_store(store: Path | None) -> Evidence:
    """Drills and past incidents in the history store; simulated baselines and generated examples are counted as
    ignored, not read."""
    from gameday.history.store import HistoryStore

    history = HistoryStore(store)
    frame = history.frame(
        "SELECT e.key, e.incident, e.type, e.runbook_minutes, e.data, i.kind FROM events e JOIN incidents i "
        "USING (key, incident) WHERE i.kind NOT IN ('sim', 'generated') ORDER BY e.key, e.seq"
    )
    metas = history.frame("SELECT key, data FROM events WHERE type = 'journal_started'")
    meta_by_key = {k: json.loads(d) for k, d in zip(metas["key"], metas["data"], strict=True)}
    out = Evidence()
    for key, group in frame.groupby("key", sort=True):
        rows = zip(group["incident"], group["type"], group["runbook_minutes"], group["data"], strict=True)
        out.extend(from_events(f"history:{key}", str(group["kind"].iloc[0]), meta_by_key.get(key, {}), rows))
    skipped = history.frame(
        "SELECT kind, count(*) AS n FROM incidents WHERE kind IN ('sim', 'generated') GROUP BY kind ORDER BY kind"
    )
    for kind, n in zip(skipped["kind"], skipped["n"], strict=True):
        why = weight(str(kind), {}, "detect")[1]
        out.ignored[why] = out.ignored.get(why, 0) + int(n)
    return out


def from_csv(path: Path) -> Evidence:
    """An incident-history CSV: one past incident a row, weight 1 for every interval two columns measure."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"cannot read CSV: {exc}") from None
    lower = {c.lower(): c for c in table.columns}
    cols: dict[str, str] = {}
    for key, names in CSV_COLUMNS.items():
        found = next((lower[n] for n in names if n in lower), None)
        if found is not None:
            cols[key] = found
    if "start" not in cols or len(cols) < 2:
        raise InputError(path, None, "need a start column (started_at) and at least one later timestamp column")
    times = {k: pd.to_datetime(table[c], utc=True, errors="coerce") for k, c in cols.items()}
    severity = next((table[c] for c in table.columns if c.lower() == "severity"), None)
    out = Evidence()
    for name, (a, b) in CSV_CHAIN.items():
        if a in times and b in times:
            minutes = (times[b] - times[a]).dt.total_seconds() / 60.0
            for row, value in minutes.items():
                if value == value and value >= 0:
                    sev = None if severity is None else str(severity[row])
                    out.intervals.append(
                        {
                            "source": str(path),
                            "incident": f"row {int(row) + 2}",
                            "kind": "incident",
                            "severity": sev,
                            "interval": name,
                            "minutes": float(value),
                            "weight": 1.0,
                            "why": "a real past incident",
                        }
                    )
    return out


def gather(inputs: list[Path], history: Path | bool | None) -> Evidence:
    """Everything the inputs and (``history``: True for the default store) the history store measure."""
    out = Evidence()
    for path in inputs:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            out.extend(from_journal(path))
        elif suffix == ".csv":
            out.extend(from_csv(path))
        elif suffix == ".md":
            out.extend(from_timeline(path))
        else:
            raise InputError(
                path,
                None,
                "expected a journal (.jsonl), a past incident's timeline (.md) or an incident-history CSV (.csv)",
            )
    if history is not False:
        out.extend(from_store(None if history is True else history))  # type: ignore[arg-type]
    return out
