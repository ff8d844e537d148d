"""Score a journal against the runbook: checks derived from the runbook model, metrics against its targets.

Reports, JUnit XML and notebooks are views of the :class:`JournalScore` this package returns.
"""

from gameday.scoring.engine import score_events, score_journal, score_timeline
from gameday.scoring.result import CheckResult, IncidentScore, JournalScore, MetricResult, Status

__all__ = [
    "CheckResult",
    "IncidentScore",
    "JournalScore",
    "MetricResult",
    "Status",
    "score_events",
    "score_journal",
    "score_timeline",
]
