"""Runbook as data: the only package that knows the markdown format."""

from gameday.runbook.model import Runbook, Severity, Workflow
from gameday.runbook.parser import DEFAULT_RUNBOOK, load_runbook, parse_runbook

__all__ = ["DEFAULT_RUNBOOK", "Runbook", "Severity", "Workflow", "load_runbook", "parse_runbook"]
