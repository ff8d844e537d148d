"""JUnit XML: one testsuite per incident, one testcase per check, so CI shows drill results natively.

Failed checks are ``<failure>``, checks that do not apply are ``<skipped>`` (CI shows them as skipped,
matching "excluded from the score").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gameday.scoring.result import JournalScore, Status


def to_junit(result: JournalScore) -> ET.ElementTree:
    suites = ET.Element("testsuites", name=f"gameday {Path(result.journal).name}")
    total = failures = skipped = 0
    for incident in result.incidents:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"incident {incident.incident}",
            tests=str(len(incident.checks)),
            failures=str(len(incident.failed)),
            skipped=str(len(incident.not_applicable)),
            errors="0",
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score",
                      value="n/a" if incident.score is None else f"{incident.score:g}")
        ET.SubElement(props, "property", name="source", value=incident.source)
        for check in incident.checks:
            case = ET.SubElement(suite, "testcase", classname=f"gameday.{incident.incident}", name=check.id)
            detail = f"expected: {check.expected}\nobserved: {check.observed}\n{check.feedback}"
            if check.status is Status.failed:
                failure = ET.SubElement(case, "failure", message=check.feedback, type="check")
                failure.text = detail
            elif check.status is Status.not_applicable:
                ET.SubElement(case, "skipped", message=check.feedback)
            else:
                ET.SubElement(case, "system-out").text = detail
        total += len(incident.checks)
        failures += len(incident.failed)
        skipped += len(incident.not_applicable)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("skipped", str(skipped))
    suites.set("errors", "0")
    ET.indent(suites)
    return ET.ElementTree(suites)


def write_junit(result: JournalScore, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_junit(result).write(path, encoding="utf-8", xml_declaration=True)
    return path
