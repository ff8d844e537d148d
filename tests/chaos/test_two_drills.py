"""Two drills at once on one target (issue #12): the second is refused with the first drill's id before it
writes anything or touches the sandbox, and ``--force`` is no way around it.  (tests/drills covers the
refusal against a bare marker; this is against a real drill with its fault in.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos_sandbox import Sandbox, record_figures, short_scenario, start_drill, strict_journal, wait_steady

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def test_a_second_drill_is_refused_with_the_first_drills_id_even_with_force(
    chaos_sandbox: Sandbox, tmp_path: Path
) -> None:
    tmp = tmp_path
    box = chaos_sandbox
    first = start_drill(box, short_scenario("slow-queries", tmp), tmp / "first")
    first.wait_until(lambda: first.has("note", "record"), "the fault applied")
    first_id = first.events()[0]["data"]["drill_id"]
    pending = [r.id for r in box.pending()]
    assert len(pending) == 1
    tries = {}
    try:
        for name, extra in (("plain", ()), ("--force", ("--force",))):
            out = tmp / f"second-{name.strip('-')}"
            done = box.gameday("drill", "run", str(short_scenario("error-burst", tmp)), "--target", "local",
                               "--out", str(out), "--responder", "human", "--time-scale", "120", *extra)  # fmt: skip
            tries[name] = done
            assert done.returncode == 2, f"{name}: exit {done.returncode}\n{done.stderr}"
            assert "Traceback" not in done.stderr, done.stderr
            assert not out.exists(), f"{name}: the refused drill wrote {out}"
            assert [r.id for r in box.pending()] == pending, f"{name}: a second fault was injected"
        assert f"drill {first_id} is already running on local" in tries["plain"].stderr, tries["plain"].stderr
        assert "--force" in tries["--force"].stderr, tries["--force"].stderr
        assert first.proc.poll() is None, "the first drill did not survive the attempts"
        closed = box.gameday("drill", "log", "close", "--actor", "ic")
        assert closed.returncode == 0, closed.stderr
        first.proc.wait(120)
    finally:
        if first.proc.poll() is None:
            first.proc.terminate()
            first.proc.wait(120)
    assert first.proc.returncode == 0, first.output()[-3000:]
    assert first.journal is not None
    events = strict_journal(first.journal)
    assert [e["type"] for e in events].count("fault_injected") == 1
    wait_steady(box)
    record_figures(second_drill="refused", with_force="refused", double_injections=0)
