"""Every PromQL expression gameday ships parses with Prometheus's own parser (promtool, as ``gameday validate``
checks a user's): the alert and recording rules of the sandbox and the cluster (at several time scales), the
sampler's queries (as written and with their windows compressed), the cluster dashboard's panels, the runbooks'
PromQL and the shipped scenarios' probes.  The alerts the rules define are the catalogue's (``gameday.faults``),
which is what a scenario's ``expected_alerts`` is checked against.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from gameday_testkit import SHIPPED_RUNBOOK, TEAM_RUNBOOK, require

from gameday import promql
from gameday.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def shipped() -> list[promql.Query]:
    from drills.k8s.dashboard import panels
    from drills.observers.prometheus import MetricQueries
    from drills.sandbox.configs import alert_rules
    from gameday.files import load_any
    from gameday.runbook import load_runbook

    queries: list[promql.Query] = []
    for window, alert_for in (("1m", "2m"), ("2s", "2s"), ("500ms", "1s")):
        for group in alert_rules(window, alert_for)["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                queries.append(promql.Query("drills/sandbox/configs.py", f"{group['name']}: {name} [{window}]",
                                            rule["expr"]))
    for scale in (1.0, 60.0, 600.0):
        for name, expr in MetricQueries().compressed(scale, 1.0, 10.0).__dict__.items():
            queries.append(promql.Query("drills/observers/prometheus.py", f"MetricQueries.{name} (x{scale:g})", expr))
    for panel in panels("hospital-erp-system"):
        queries += [promql.Query("drills/k8s/dashboard", f"{panel.id}: {s.legend}", s.query) for s in panel.series]
    for runbook in (SHIPPED_RUNBOOK, TEAM_RUNBOOK):
        if runbook.exists():
            text = runbook.read_bytes().decode("utf-8", errors="replace")
            queries += [promql.Query(runbook, field, expr)
                        for field, expr in promql.runbook_queries(load_runbook(runbook), text)]
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        queries += [promql.Query(path, field, expr) for field, expr in load_any(path).promql_fields()]
    return queries


@pytest.fixture(scope="module")
def tool() -> str:
    found = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").is_file() else None)
    require(found is not None, "promtool not installed (make setup installs Debian's prometheus package)")
    return str(found)


def test_every_shipped_expression_parses(tool: str) -> None:
    queries = shipped()
    assert len(queries) > 40 and {str(q.path).split("/")[-1] for q in queries} >= {
        "configs.py", "prometheus.py", "dashboard", "incident-response.md", "connection-pool-leak.yaml"}
    promql.check(queries)


def test_the_check_fails_on_a_damaged_shipped_expression(tool: str) -> None:
    """The same path refuses each shipped expression with its last bracket gone, naming where it came from."""
    queries = [q for q in shipped() if q.expr.rstrip().endswith(")")]
    damaged = [promql.Query(q.path, q.field, q.expr.rstrip()[:-1]) for q in queries]
    found = promql.problems(q.expr for q in damaged)
    assert all(found.values()), [e for e, problem in found.items() if not problem]
    with pytest.raises(InputError) as refused:
        promql.check(damaged)
    assert str(refused.value).startswith(f"{damaged[0].path}: {damaged[0].field}: PromQL does not parse: ")


def test_the_rules_define_exactly_the_alerts_a_scenario_may_expect() -> None:
    from drills.sandbox.configs import alert_rules
    from gameday.faults import ALERTS

    rules = [r for g in alert_rules("1m", "2m")["groups"] for r in g["rules"]]
    assert sorted(r["alert"] for r in rules if "alert" in r) == sorted(ALERTS)
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        expected = yaml.safe_load(path.read_text(encoding="utf-8")).get("expected_alerts", [])
        assert set(expected) <= set(ALERTS), path
