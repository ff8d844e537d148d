"""Reports: HTML and Markdown views of a score, a timeline chart, and drafts in the runbook's templates.

``build_report(journal=Path, out=Path)`` is what ``gameday report`` (and a demo) calls.
"""

from gameday.report.build import build_report

__all__ = ["build_report"]
