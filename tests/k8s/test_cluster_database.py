"""The psql line the kind target runs in PostgreSQL's pod (drills/k8s/database.py), against what that pod runs: the
image's own entrypoint (drills/k8s/images/postgres-entrypoint.sh: initdb with the Secret's user, password auth on
127.0.0.1) on Debian's PostgreSQL 15, here as a local process (unprivileged, as the sandbox runs it).  Only the
transport differs: a subprocess with the pod's environment instead of ``pods/exec``.

Checked: the schema is read, migrated back from 2 to 1 and left alone on 1; the invariant counts duplicated
appointments; the repair removes them and says how many; a failing statement is one line naming the pod.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from gameday_testkit import require

from drills.k8s.database import ClusterDatabase, exit_status
from drills.sandbox.configs import unprivileged
from drills.service.schema import migrate
from gameday.errors import TargetError

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "drills" / "k8s" / "images" / "postgres-entrypoint.sh"
PG_BIN = Path("/usr/lib/postgresql/15/bin")  # the image's PATH starts here (postgres.Dockerfile)
#: The postgres-credentials Secret's values (manifests/postgres.yaml.j2).
SECRET = {"POSTGRES_USER": "erp", "POSTGRES_PASSWORD": "erp-drill-only", "POSTGRES_DB": "hospital_erp"}


class LocalPod(ClusterDatabase):
    """The same queries; the pod's command runs here with the pod's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        pod_target = SimpleNamespace(_own=lambda namespace: "hospital-erp-system", dry_run=False)
        super().__init__(pod_target)  # type: ignore[arg-type]
        self.env = env

    def run(self, namespace: str, argv: list[str], what: str) -> tuple[str, str, int | None]:
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        return done.stdout, done.stderr, done.returncode


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pod_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    require((PG_BIN / "postgres").exists() and shutil.which("unshare") is not None,
            "PostgreSQL 15 (Debian's postgresql-15) and unshare are needed")  # fmt: skip
    data = tmp_path_factory.mktemp("pgdata")
    env = {"PATH": f"{PG_BIN}:/usr/local/bin:/usr/bin:/bin", "PGDATA": str(data / "pgdata"),
           "PGPORT": str(_free_port()), "LANG": "C.UTF-8", **SECRET}  # fmt: skip
    server = subprocess.Popen(unprivileged(["bash", str(ENTRYPOINT)]), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    dsn = f"host=127.0.0.1 port={env['PGPORT']} dbname=hospital_erp user=erp password=erp-drill-only"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(dsn, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                assert server.poll() is None, f"the entrypoint exited: {server.communicate()[1][-2000:]}"
                assert time.monotonic() < deadline, "PostgreSQL did not answer within 60 s"
                time.sleep(0.2)
        yield {**env, "DSN": dsn}
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture
def dsn(pod_env: dict[str, str]) -> Iterator[str]:
    """The demo's tables, seeded and migrated to schema 2 (what v1.3.0's first pod leaves)."""
    dsn = pod_env["DSN"]
    migrate(dsn, 2)
    yield dsn
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE appointments, patients")


def test_the_schema_goes_back_from_2_to_1_and_stays(pod_env: dict[str, str], dsn: str) -> None:
    pod = LocalPod(pod_env)
    assert pod.schema() == 2
    pod.migrate_back()
    assert pod.schema() == 1
    with psycopg.connect(dsn) as conn:  # what v1.2.2 reads is there again
        assert conn.execute("SELECT count(ward) FROM patients").fetchone()[0] > 0  # type: ignore[index]
    pod.migrate_back()  # safe twice
    assert pod.schema() == 1


def test_the_invariant_counts_duplicates_and_the_repair_removes_them(pod_env: dict[str, str], dsn: str) -> None:
    pod = LocalPod(pod_env)
    assert pod.violations() == 0
    with psycopg.connect(dsn) as conn:  # what v1.2.5 does: each of three bookings made twice
        conn.execute("INSERT INTO appointments (patient_id, starts_at, department) SELECT patient_id, starts_at,"
                     " department FROM appointments ORDER BY id LIMIT 3")  # fmt: skip
    assert pod.violations() == 3
    assert pod.repair() == 3
    assert pod.violations() == 0 and pod.repair() == 0


def test_a_failing_statement_is_one_line_naming_the_pod(pod_env: dict[str, str], dsn: str) -> None:
    with pytest.raises(TargetError) as caught:
        LocalPod(pod_env).query("SELECT * FROM no_such_table", "read nothing")
    said = str(caught.value)
    assert said.startswith("read nothing: psql in hospital-erp-system/postgres-0 failed: ERROR:"), said
    assert "no_such_table" in said and "\n" not in said
    assert SECRET["POSTGRES_PASSWORD"] not in said


class Ended:
    """What the exec's websocket holds once the command is over: its status channel."""

    def __init__(self, status: str, still_open: bool = False) -> None:
        self.status, self.still_open = status, still_open

    def is_open(self) -> bool:
        return self.still_open

    def read_channel(self, channel: int, timeout: float = 0) -> str:
        assert channel == 3  # the API's status channel
        return self.status


FAILED = (
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit code 3",'
    '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
)


@pytest.mark.parametrize(("session", "expected"), [
    (Ended('{"metadata":{},"status":"Success"}'), (0, "")),
    (Ended(FAILED), (3, "command terminated with non-zero exit code: exit code 3")),
    (Ended('{"metadata":{},"status":"Failure","message":"container not found (\\"postgres\\")"}'),
     (-1, 'container not found ("postgres")')),
    (Ended(""), (-1, "the exec ended without an exit status")),
    (Ended("", still_open=True), (None, "")),
])  # fmt: skip
def test_the_exit_status_comes_from_the_exec_status_channel(session: Ended, expected: tuple[int | None, str]) -> None:
    assert exit_status(session) == expected
