"""gameday: incident-response game days driven by the team's own runbook.

Pipeline: runbook -> scenario/policy -> sim | drill -> journal -> score -> report.
"""

__version__ = "0.1.0"
