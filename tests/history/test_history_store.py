"""The history store: what the team's past incident and two drills give, repeats, action items, idempotent and
concurrent adds, migrations, and refusals that leave everything as it was."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from history_helpers import Drill, past_incident, run_gameday, write_drill

from gameday.history.ingest import read_journal_file, read_review_file, read_timeline_file
from gameday.history.review import monthly_review, weekly_review
from gameday.history.schema import SCHEMA_VERSION, migrate
from gameday.history.store import HistoryStore
from gameday.runbook import load_runbook
from sim.detectability import count_trend_noise

TODAY = date(2026, 3, 20)


def _fill(store: HistoryStore, tmp_path: Path, drills: list[Drill]) -> None:
    timeline, review = past_incident(tmp_path / "past")
    records = [read_timeline_file(timeline)] + [read_journal_file(d.journal) for d in drills]
    reviews = [read_review_file(review)] + [read_review_file(d.review, d.incident) for d in drills]
    store.add(records, reviews)


def test_past_incident_and_two_drills_give_figures_checkable_by_hand(tmp_path: Path, drills: list[Drill]) -> None:
    store = HistoryStore(tmp_path / "history.duckdb")
    _fill(store, tmp_path, drills)
    review = monthly_review(store, load_runbook(), "2026-03", today=TODAY, count_noise=count_trend_noise)

    # the past incident is January's one SEV-1; the drills are March's, and are not incidents
    assert review["months"] == ["2026-01", "2026-02", "2026-03"]
    assert review["incident_count"]["by_month"] == {"2026-01": 1, "2026-02": 0, "2026-03": 0}
    assert review["incident_count"]["by_severity"]["SEV-1"]["2026-01"] == 1
    assert review["incident_count"]["drills_by_month"] == {"2026-01": 0, "2026-02": 0, "2026-03": 2}
    assert review["incident_count"]["trend"]["noise"]["distinguishable"] is False

    rows = {(m["month"], m["kind"], m["metric"]): m for m in review["metrics"]}
    # the runbook's incident: alert 14:30 (its first row: MTTD 0), closed 15:30 after the watch (MTTR 60), no ack row
    incident_mttr = rows[("2026-01", "incident", "mttr")]
    assert (incident_mttr["n"], incident_mttr["median"], incident_mttr["target"], incident_mttr["met"]) == (1, 60.0,
                                                                                                           60.0, 1)
    assert rows[("2026-01", "incident", "mttd")]["median"] == 0.0
    assert (rows[("2026-01", "incident", "mtta")]["n"], rows[("2026-01", "incident", "mtta")]["met"]) == (0, 0)
    # drills: red one step a runbook minute, blue two -> MTTD 1 and 2, MTTR 6 and 12: medians 1.5 and 9
    drill_mttd, drill_mttr = rows[("2026-03", "drill", "mttd")], rows[("2026-03", "drill", "mttr")]
    assert (drill_mttd["n"], drill_mttd["median"]) == (2, 1.5)
    assert (drill_mttr["n"], drill_mttr["median"], drill_mttr["met"], drill_mttr["of"]) == (2, 9.0, 2, 2)
    assert drill_mttr["median_low"] is None and drill_mttr["median_high"] is None  # two values bound no median

    teams = {(s["team"], s["role"]) for s in review["scores"]}
    assert {("red", "all"), ("blue", "all"), ("red", "IC")} <= teams

    # action items: the runbook review's five (due 2026-01-25..31: all overdue on 2026-03-20) and the drills'
    items = review["action_items"]
    runbook_items = [a for a in items if a["incident"] == "2026-01-24-001"]
    assert len(runbook_items) == 5
    assert items[0]["id"] == "2026-01-24-001-A5" and items[0]["action"] == "Set up PgBouncer connection alerts"
    assert items[0]["due"] == "2026-01-25" and items[0]["overdue_days"] == 54
    assert review["repeats"]["count"] == 0  # drills repeat their fault on purpose: they are no repeat incidents


def _crafted_incident(folder: Path, ident: str, day: str, root_cause: str, due: str = "2026-12-31") -> list[Path]:
    timeline = folder / f"{ident}-timeline.md"
    timeline.write_text(f"## Incident Timeline: {ident}\n\n| Time (UTC) | Event |\n| --- | --- |\n"
                        f"| 09:00 | Prometheus alert: HighErrorRate firing |\n| 09:05 | Incident declared SEV-2 |\n"
                        f"| 09:40 | Service restored, monitoring stability |\n| 10:10 | Incident closed |\n",
                        encoding="utf-8")
    review = folder / f"{ident}-review.md"
    review.write_text(f"# Post-Incident Review: {ident}\n\n## Summary\n\n- **Date**: {day}\n\n## Root Cause\n\n"
                      f"{root_cause}\n\n## Action Items\n\n| Action | Owner | Due Date | Priority |\n"
                      f"| --- | --- | --- | --- |\n| Fix {ident} | DevOps | {due} | High |\n", encoding="utf-8")
    return [timeline, review]


def test_a_pair_with_the_same_root_cause_is_one_repeat(tmp_path: Path) -> None:
    history = tmp_path / "history.duckdb"
    files = (_crafted_incident(tmp_path, "2026-02-03-001", "2026-02-03", "PgBouncer pool exhausted by a leak.")
             + _crafted_incident(tmp_path, "2026-02-20-002", "2026-02-20", "pgbouncer POOL exhausted by a leak")
             + _crafted_incident(tmp_path, "2026-02-25-003", "2026-02-25", "Disk full on the database node."))
    done = run_gameday("history", "import", *files, "--history", history)
    assert done.returncode == 0, done.stderr
    review = monthly_review(HistoryStore(history), load_runbook(), "2026-02", today=TODAY)
    assert review["incident_count"]["by_month"] == {"2026-02": 3}
    assert review["repeats"]["count"] == 1 and review["repeats"]["met"] is False  # the runbook's target is 0
    pair = review["repeats"]["pairs"][0]
    assert (pair["incident"], pair["repeats"], pair["same"], pair["days_apart"]) == ("2026-02-20-002",
                                                                                     "2026-02-03-001",
                                                                                     "root cause", 17.0)


def test_an_overdue_item_comes_first_in_both_reviews_and_done_closes_it(tmp_path: Path) -> None:
    history = tmp_path / "history.duckdb"
    files = (_crafted_incident(tmp_path, "2026-03-01-001", "2026-03-01", "A", due="2026-04-30")
             + _crafted_incident(tmp_path, "2026-03-05-002", "2026-03-05", "B", due="2026-03-10")
             + _crafted_incident(tmp_path, "2026-03-07-003", "2026-03-07", "C", due="2026-03-25"))
    assert run_gameday("history", "import", *files, "--history", history).returncode == 0
    weekly = run_gameday("review", "weekly", "--history", history, "--today", TODAY)
    assert weekly.returncode == 0, weekly.stderr
    table = [line for line in weekly.stdout.splitlines() if line.startswith("| 2026-")]
    assert [row.split(" | ")[0] for row in table] == ["| 2026-03-05-002-A1", "| 2026-03-07-003-A1",
                                                      "| 2026-03-01-001-A1"]
    assert "| 10 d |" in table[0]
    out = tmp_path / "review"
    monthly = run_gameday("review", "monthly", "--history", history, "--today", TODAY, "--out", out)
    assert monthly.returncode == 0, monthly.stderr
    html = (out / "review.html").read_text(encoding="utf-8")
    md = (out / "review.md").read_text(encoding="utf-8")
    for page in (html, md):
        assert page.index("2026-03-05-002-A1") < page.index("2026-03-07-003-A1") < page.index("2026-03-01-001-A1")

    closed = run_gameday("history", "action", "done", "2026-03-05-002-A1", "--history", history)
    assert closed.returncode == 0 and "2026-03-05-002-A1: done" in closed.stdout
    assert [a["id"] for a in weekly_review(HistoryStore(history), TODAY)["action_items"]] == [
        "2026-03-07-003-A1", "2026-03-01-001-A1"]

    # a later review marking an earlier item done (by its id, Status column) closes it too
    later = tmp_path / "2026-03-15-004-review.md"
    later.write_text("# Post-Incident Review: 2026-03-15-004\n\n## Root Cause\n\nD\n\n## Action Items\n\n"
                     "| Action | Owner | Due Date | Priority | Status |\n| --- | --- | --- | --- | --- |\n"
                     "| Finish 2026-03-07-003-A1 | DevOps | 2026-03-16 | High | done |\n", encoding="utf-8")
    said = run_gameday("history", "import", later, "--history", history)
    assert said.returncode == 0 and "closed 2026-03-07-003-A1" in said.stdout, said.stdout
    assert [a["id"] for a in weekly_review(HistoryStore(history), TODAY)["action_items"]] == ["2026-03-01-001-A1"]


def test_the_same_journal_twice_is_stored_once_and_a_longer_one_replaces_it(tmp_path: Path) -> None:
    history = tmp_path / "history.duckdb"
    drill = write_drill(tmp_path / "d", "red-2026-03-02", "red", datetime(2026, 3, 2, 10, tzinfo=UTC), review=False)
    first = run_gameday("history", "add", drill.journal, "--history", history)
    again = run_gameday("history", "add", drill.journal, drill.journal, "--history", history)
    assert first.returncode == 0 and again.returncode == 0, again.stderr
    assert "added" in first.stdout and again.stdout.count("already stored") == 2
    store = HistoryStore(history)
    assert store.frame("SELECT count(*) AS n FROM journals")["n"][0] == 1
    assert store.frame("SELECT count(*) AS n FROM incidents")["n"][0] == 1
    events = store.frame("SELECT count(*) AS n FROM events")["n"][0]

    # the review is filed after the runner stored the drill: the journal grows, the store keeps the longer one
    from gameday.journal import EventType, JournalWriter

    with JournalWriter(drill.journal, drill.incident, durable=False) as writer:
        writer.emit(EventType.note, "alice", {"text": "review filed later"})
    assert "updated" in run_gameday("history", "add", drill.journal, "--history", history).stdout
    assert store.frame("SELECT count(*) AS n FROM journals")["n"][0] == 1
    assert store.frame("SELECT count(*) AS n FROM events")["n"][0] == events + 1


def _add_from_process(history: str, journals: list[str], barrier: multiprocessing.synchronize.Barrier) -> None:
    from gameday.history.ingest import read_journal_file
    from gameday.history.store import HistoryStore

    records = [read_journal_file(Path(j)) for j in journals]
    barrier.wait()  # every process writes at the same moment
    HistoryStore(history).add(records)


def test_drills_ending_at_once_in_several_processes_each_land_once(tmp_path: Path) -> None:
    history = tmp_path / "history.duckdb"
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    journals = [str(write_drill(tmp_path / f"d{i}", f"drill-{i}", "red", start.replace(day=2 + i),
                                review=False).journal) for i in range(4)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    # each process ends its own drill and, as a retry would, also adds its neighbour's
    processes = [context.Process(target=_add_from_process, args=(str(history), [journals[i], journals[(i + 1) % 4]],
                                                                 barrier)) for i in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    frame = HistoryStore(history).frame("SELECT incident, count(*) AS n FROM incidents GROUP BY incident")
    assert sorted(frame["incident"]) == [f"drill-{i}" for i in range(4)]
    assert set(frame["n"]) == {1}


def test_a_store_of_an_older_schema_is_migrated_and_keeps_its_rows(tmp_path: Path, drills: list[Drill]) -> None:
    history = tmp_path / "history.duckdb"
    con = duckdb.connect(str(history))
    migrate(con, 0, upto=1)  # the first schema: journals, no reviews or action items yet
    con.execute("INSERT INTO journals VALUES ('k1', 'h1', 'drill', 'drill', 'old-drill', '', 'red', NULL, 3, "
                "TIMESTAMPTZ '2026-01-02 10:00:00+00')")
    con.execute("INSERT INTO incidents VALUES ('k1', 'old-drill', 'drill', 'drill', TIMESTAMPTZ '2026-01-02 "
                "10:00:00+00', '2026-01', 'SEV-1', 'red', NULL, NULL, 80.0, true)")
    con.close()

    listed = run_gameday("history", "list", "--history", history)  # a reader migrates too
    assert listed.returncode == 0 and "old-drill" in listed.stdout, listed.stderr
    said = run_gameday("history", "add", drills[0].journal, "--history", history)
    assert said.returncode == 0, said.stderr
    store = HistoryStore(history)
    assert store.frame("SELECT value FROM meta WHERE key = 'schema_version'")["value"][0] == str(SCHEMA_VERSION)
    assert sorted(store.frame("SELECT incident FROM incidents")["incident"]) == ["old-drill", "red-2026-03-02"]
    assert store.frame("SELECT count(*) AS n FROM action_items")["n"][0] > 0  # the new tables are in use


def _one_line_refusal(result, *names: str) -> None:
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for name in names:
        assert name in lines[0], lines[0]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, drills: list[Drill]) -> None:
    history = tmp_path / "history.duckdb"
    not_a_journal = tmp_path / "notes.jsonl"
    not_a_journal.write_text('{"hello": "world"}\n', encoding="utf-8")
    result = run_gameday("history", "add", drills[0].journal, not_a_journal, "--history", history)
    _one_line_refusal(result, str(not_a_journal))
    assert not history.exists()  # the good journal before it was not stored either

    _one_line_refusal(run_gameday("review", "monthly", "--month", "2026-13", "--history", history), "--month")
    _one_line_refusal(run_gameday("review", "monthly", "--month", "March", "--history", history), "--month")
    assert not history.exists()

    assert run_gameday("history", "add", drills[0].journal, "--history", history).returncode == 0
    before = history.read_bytes()
    _one_line_refusal(run_gameday("history", "add", drills[1].journal, not_a_journal, "--history", history),
                      str(not_a_journal))
    _one_line_refusal(run_gameday("history", "import", tmp_path / "red" / "journal.jsonl", "--history", history),
                      "journal.jsonl")
    _one_line_refusal(run_gameday("history", "action", "done", "nope-A1", "--history", history), "nope-A1")
    assert HistoryStore(history).frame("SELECT count(*) AS n FROM journals")["n"][0] == 1
    assert history.read_bytes() == before


@pytest.mark.parametrize("damage", ["newer", "corrupt", "foreign"])
def test_a_newer_corrupted_or_foreign_store_is_refused_and_left_alone(tmp_path: Path, drills: list[Drill],
                                                                       damage: str) -> None:
    history = tmp_path / "history.duckdb"
    if damage == "corrupt":
        history.write_bytes(b"DUCK" + bytes(range(256)) * 64)
    else:
        con = duckdb.connect(str(history))
        if damage == "newer":
            migrate(con, 0)
            con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        else:
            con.execute("CREATE TABLE spreadsheet (a INTEGER)")
        con.close()
    before = history.read_bytes()
    for args in (("history", "add", drills[0].journal), ("history", "list"), ("review", "weekly")):
        _one_line_refusal(run_gameday(*args, "--history", history), str(history))
    assert history.read_bytes() == before


def test_a_store_that_cannot_be_written_never_fails_the_drill(tmp_path: Path, drills: list[Drill],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from gameday.history import record_drill

    broken = tmp_path / "broken.duckdb"
    broken.write_text("not a database", encoding="utf-8")
    monkeypatch.setenv("GAMEDAY_HISTORY", str(broken))
    said: list[str] = []

    class Console:
        def print(self, text: str, **_: object) -> None:
            said.append(text)

    assert record_drill(drills[0].journal, Console()) is False
    assert len(said) == 1 and "not recorded" in said[0] and str(broken) in said[0]
    monkeypatch.setenv("GAMEDAY_HISTORY", str(tmp_path / "good.duckdb"))
    assert record_drill(drills[0].journal, Console()) is True


def test_calibrate_fits_from_the_store_and_says_when_values_are_too_few(tmp_path: Path, drills: list[Drill]) -> None:
    history = tmp_path / "history.duckdb"
    _fill(HistoryStore(history), tmp_path, drills)
    done = run_gameday("calibrate", "--history", "--store", history, "--out", tmp_path / "calibrated.yaml")
    assert done.returncode == 0, done.stderr
    lines = {line.split(":")[0]: line for line in done.stdout.splitlines()}
    # two drills measure detection (fault -> alert: 1 and 2 runbook minutes) at a drill's weight, 0.5 each; the
    # timeline starts at its alert
    assert lines["detect"].startswith("detect: n=2 weight 1 ") and "too few to fit" in lines["detect"]
    # the past incident's declaration -> mitigation ('Pods healthy, error rate dropping'): one real incident
    assert "mitigate: n=1 weight 1 (1 x 1: a real past incident)" in lines["mitigate"]
    assert "kept the base: too few to fit" in lines["mitigate"]
    # the drills' people at time scale 60 weigh 0.5 / 60 each
    assert "2 x 0.0083: a drill with people, compressed 60x" in lines["acknowledge"]
    assert "SEV-1 MTTR: observed 6-60 min" in done.stdout
    assert (tmp_path / "calibrated.yaml").is_file()


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_a_recorded_sandbox_drill_lands_with_the_scorers_figures_and_its_review(tmp_path: Path) -> None:
    """``fixtures/sandbox-drill``: the journal and review of a real drill (crashloop, autopilot, the local sandbox,
    time scale 120), recorded as the runner wrote them.  The store holds what ``gameday score`` says of it."""
    from gameday.scoring.engine import score_journal

    journal = FIXTURES / "sandbox-drill" / "journal.jsonl"
    history = tmp_path / "history.duckdb"
    said = run_gameday("history", "add", journal, "--history", history)
    assert said.returncode == 0, said.stderr
    assert "review of crashloop-20261205T203631Z-s1: 3 action item(s)" in said.stdout
    scored = score_journal(journal).incidents[0]
    store = HistoryStore(history)
    row = store.frame("SELECT kind, severity, score, fault, month FROM incidents").iloc[0]
    assert (row["kind"], row["severity"], row["score"], row["fault"], row["month"]) == (
        "drill", scored.severity_used, scored.score, "crashloop", "2026-12")
    stored = dict(store.frame("SELECT metric, minutes FROM metrics").itertuples(index=False))
    assert stored == pytest.approx({m.id: m.minutes for m in scored.metrics})
    failed = set(store.frame("SELECT check_id FROM checks WHERE status = 'fail'")["check_id"])
    assert failed == {c.id for c in scored.failed}
    items = weekly_review(store, date(2026, 12, 9))["action_items"]
    assert [a["id"] for a in items][:1] == ["crashloop-20261205T203631Z-s1-A1"]  # due 2026-12-08: overdue, first
    assert items[0]["overdue_days"] == 1 and all(a["overdue_days"] == 0 for a in items[1:])
