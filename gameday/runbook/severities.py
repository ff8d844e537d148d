"""Severity names as the runbook writes them in running text ("SEV-1/2", "SEV-1/SEV-2"): a leaf both the model
and the parts it is built from (communication, the workflow) read."""

from __future__ import annotations

import re


def severity_names(text: str) -> list[str]:
    """ "SEV-1/2" -> ["SEV-1", "SEV-2"]; "SEV-1/SEV-2" likewise; "SEV-3" -> ["SEV-3"]."""
    found: list[str] = []
    for match in re.finditer(r"SEV-?\s*(\d+(?:\s*/\s*(?:SEV-?)?\d+)*)", text, re.IGNORECASE):
        for number in re.findall(r"\d+", match.group(1)):
            name = f"SEV-{int(number)}"
            if name not in found:
                found.append(name)
    return found
