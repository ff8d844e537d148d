"""Score a journal against the runbook: checks derived from the runbook model, metrics against its targets.

Reports, JUnit XML and notebooks are views of the :class:`JournalScore` this package returns.
"""

# the decision tree's other branches (issue 22) join the check registry when the package loads (importing any
# gameday.scoring module loads this first), after checks.py's own: no module imports the registry's importer back
from gameday.scoring import checks_branches as _checks_branches  # noqa: F401
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
