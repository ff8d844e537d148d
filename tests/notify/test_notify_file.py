"""A bad notify file is refused in one line naming file and field, exit 2, nothing written: by ``gameday
validate`` and by ``gameday drill run --notify`` (before any fault, so no target is needed here)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drills.notify.messages import message_for
from gameday.journal import Event, EventType

REPO = Path(__file__).resolve().parents[2]
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SECRET_URL = "https://hooks.slack.com/services/T0/B0/abcdefSECRET"
GOOD: dict[str, Any] = {"kind": "notify", "sinks": [
    {"channel": "Slack", "type": "webhook", "url_env": "GD_TEST_SLACK_URL"},
    {"channel": "Email", "type": "smtp", "host": "127.0.0.1", "port": 2525, "starttls": False,
     "from": "gameday@example.com", "to": ["oncall@example.com"]},
    {"channel": "Status Page", "type": "status_page"},
]}


def _with(index: int, **changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(GOOD))
    sink = body["sinks"][index]
    for key, value in changes.items():
        if value is None:
            sink.pop(key, None)
        else:
            sink[key] = value
    return body


#: (name, file body, field the one line names, what it says)
BAD = [
    ("unknown-channel", _with(0, channel="Slak"), "sinks.0.channel", "no channel 'Slak' (the runbook has Slack, "
     "Status Page, Email; did you mean Slack?)"),
    ("teams-channel", _with(0, channel="Microsoft Teams"), "sinks.0.channel", "no channel 'Microsoft Teams'"),
    ("missing-url", _with(0, url_env=None), "sinks.0.webhook", "missing the webhook URL"),
    ("inline-url", _with(0, url_env=None, url=SECRET_URL), "sinks.0.webhook", "url is a secret written inline"),
    ("url-in-env-field", _with(0, url_env=SECRET_URL), "sinks.0.webhook.url_env", "String should match pattern"),
    ("inline-password", _with(1, username_env="U", password="hunter2-SECRET"), "sinks.1.smtp",
     "password is a secret written inline"),
    ("half-login", _with(1, username_env="GD_USER"), "sinks.1.smtp", "login needs both username_env and password_env"),
    ("unknown-type", _with(2, type="pager"), "sinks.2", "does not match any of the expected tags"),
    ("no-sinks", {"kind": "notify", "sinks": []}, "sinks", "at least 1 item"),
]


def _gameday(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GD_TEST_")}
    full.update(GAMEDAY_STATE_DIR=str(cwd / "state"), **(env or {}))
    return subprocess.run([GAMEDAY, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=120)


def _one_line(result: subprocess.CompletedProcess[str], path: Path, field: str, says: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{path.name}: {field}: " in lines[0] and says in lines[0], lines[0]
    assert "SECRET" not in result.stderr + result.stdout  # a secret written inline is never echoed
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "body", "field", "says"), BAD, ids=[b[0] for b in BAD])
def test_validate_refuses_a_bad_notify_file(tmp_path: Path, name: str, body: dict[str, Any], field: str,
                                            says: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(body))
    _one_line(_gameday("validate", str(path), cwd=tmp_path), path, field, says)


def test_validate_accepts_a_good_one(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(json.dumps(GOOD))
    result = _gameday("validate", str(path), cwd=tmp_path)
    assert result.returncode == 0 and "ok (notify)" in result.stdout, result.stderr


def test_drill_run_refuses_before_any_fault(tmp_path: Path) -> None:
    """Bad file, unset variable, URL that is no URL, status page port taken: one line, exit 2, no drill."""
    scenario = str(REPO / "scenarios" / "crashloop.yaml")
    out = tmp_path / "out"
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps(_with(0, channel="Slak")))
    good = tmp_path / "notify.yaml"
    good.write_text(json.dumps(GOOD))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = tmp_path / "busy.yaml"
        busy.write_text(json.dumps(_with(2, port=taken.getsockname()[1])))
        cases = [
            (bad, None, "sinks.0.channel", "no channel 'Slak'"),
            (good, None, "sinks.0.url_env", "$GD_TEST_SLACK_URL is not set"),
            (good, {"GD_TEST_SLACK_URL": "ftp://example.com/SECRET"}, "sinks.0.url_env",
             "$GD_TEST_SLACK_URL is not an http(s) URL"),
        ]
        for path, env, field, says in cases:
            result = _gameday("drill", "run", scenario, "--out", str(out), "--notify", str(path), cwd=tmp_path, env=env)
            _one_line(result, path, field, says)
        result = _gameday("drill", "run", scenario, "--out", str(out), "--notify", str(busy), cwd=tmp_path,
                          env={"GD_TEST_SLACK_URL": "http://127.0.0.1:9/hook"})
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "the status page could not listen" in result.stderr
    assert not out.exists()  # nothing written, no drill started
    assert not list((tmp_path / "state").rglob("active/*.json"))


def test_a_notice_brings_its_own_subject() -> None:
    """The runbook's notices start with a ``Subject:`` line: it becomes the mail's subject, not body text."""
    from datetime import UTC, datetime

    event = Event(ts=datetime.now(UTC), t=1.0, seq=7, incident="inc-1", type=EventType.external_notice,
                  actor="carol", data={"kind": "resolution", "channels": ["Email"],
                                       "message": "Subject: Service Restored - Hospital ERP\n\nAll good."})
    message = message_for(event, "SEV-1", "inc-1")
    assert (message.subject, message.text) == ("Service Restored - Hospital ERP", "All good.")


def test_a_relative_ca_file_is_read_beside_the_notify_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drills.notify.config import load_notify

    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "ca.pem").write_text("a CA\n")
    path = tmp_path / "team" / "notify.yaml"
    path.write_text(json.dumps(_with(1, ca_file="ca.pem")))
    monkeypatch.chdir(tmp_path)  # not where the file is
    sinks = load_notify(path).resolve(path, {"GD_TEST_SLACK_URL": "https://hooks.example.com/x"})
    assert sinks[1].spec.ca_file == tmp_path / "team" / "ca.pem"  # type: ignore[union-attr]
