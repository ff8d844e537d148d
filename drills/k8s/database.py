"""The cluster's PostgreSQL as the kind target reaches it: ``psql`` run in the database's own pod through the API's
``pods/exec`` (the official client's websocket stream), in the drill's namespace only.

Why exec: PostgreSQL has no port on the host, a Job would need an image, a schedule and a clean-up of its own, and
the backend must not be the way in (the down-migration is needed exactly when the backend cannot read the schema).
``psql`` ships in the database's image (ours and the upstream one), and the pod's own environment holds the
credentials, so nothing secret passes through gameday.  The SQL is the sandbox's (:mod:`drills.service.schema`,
:data:`drills.exporters.database.INTEGRITY_SQL`), so both targets change the data the same way.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from drills.exporters.database import INTEGRITY_SQL
from drills.k8s.objects import POSTGRES
from drills.service.schema import MIGRATION_LOCK, REPAIR_SQL, TO_SCHEMA_1
from gameday.errors import TargetError

if TYPE_CHECKING:
    from drills.k8s.target import KubernetesTarget

#: The StatefulSet's one pod and its container (manifests/postgres.yaml.j2).
POD, CONTAINER = f"{POSTGRES}-0", "postgres"
#: psql with the pod's own credentials (POSTGRES_USER / _PASSWORD / _DB, from the postgres-credentials Secret);
#: the SQL comes as ``$1``, so nothing is quoted into the shell.
PSQL = (
    'PGPASSWORD="$POSTGRES_PASSWORD" exec psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 '
    '-U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "$1"'
)
#: Wall seconds one statement may take (the repair and the rename take milliseconds on the demo's tables).
EXEC_TIMEOUT_S = 60.0
SCHEMA_SQL = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'patients' AND column_name = 'unit'"
#: Schema 2 back to 1, under the lock every replica's start-up migration takes (one implicit transaction).
DOWN_SQL = f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK}); {TO_SCHEMA_1}"
#: The repair, counting the rows it removed.
COUNTED_REPAIR_SQL = f"WITH removed AS ({REPAIR_SQL.strip()} RETURNING 1) SELECT count(*) FROM removed"


class Database(Protocol):
    """What the faults' reverts need of the cluster's database (the test control plane runs no container, so its
    tests give the target a stand-in with the same methods)."""

    def schema(self) -> int: ...

    def migrate_back(self) -> None: ...

    def repair(self) -> int: ...

    def violations(self) -> int: ...


class ClusterDatabase:
    """SQL in ``postgres-0`` of the target's namespace; every failure is one :class:`TargetError` line."""

    def __init__(self, target: KubernetesTarget) -> None:
        self.target = target

    def schema(self) -> int:
        """1, or 2 once a care-unit release renamed ``patients.ward`` to ``unit``."""
        return 2 if int(self.query(SCHEMA_SQL, "read the schema") or 0) else 1

    def migrate_back(self) -> None:
        """Schema 2 back to 1 (the drill's own clean-up; no release ever does it); a no-op on schema 1."""
        self.query(DOWN_SQL, "migrate the schema back to 1")

    def repair(self) -> int:
        """Remove the appointments booked more than once (the first of each stays); how many went."""
        return int(self.query(COUNTED_REPAIR_SQL, "remove the duplicated appointments") or 0)

    def violations(self) -> int:
        """The data invariant on the real tables: groups of appointments booked more than once."""
        return int(self.query(INTEGRITY_SQL, "read the data invariant") or 0)

    def query(self, sql: str, what: str) -> str:
        """Run ``sql`` (one implicit transaction) and return what psql printed (unaligned, tuples only)."""
        target = self.target
        namespace = target._own(None)  # the guard: the drill's namespace or nothing
        argv = ["sh", "-c", PSQL, "psql", sql]
        if target.dry_run:
            target.printer(f"[dry-run] {target.context}/{namespace}: exec {POD} psql ({what}): {sql.strip()}")
            return ""
        where = f"{namespace}/{POD}"
        out, err, code = self.run(namespace, argv, what)
        if code is None:
            raise TargetError(f"{what}: psql in {where} did not finish within {EXEC_TIMEOUT_S:g} s")
        if code != 0:
            problem = " ".join((err or out or "").split())[:300] or f"exit {code}"
            raise TargetError(f"{what}: psql in {where} failed: {problem}")
        return (out or "").strip()

    def run(self, namespace: str, argv: list[str], what: str) -> tuple[str, str, int | None]:
        """``argv`` in the database container of ``postgres-0``: stdout, stderr and the exit status (``None``: still
        running when the time ran out)."""
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import stream

        # a client of its own: the stream swaps its client's transport while it runs, and the target's client
        # serves the kubectl watch and the rollout waits on other threads meanwhile
        api = config.new_client_from_config(config_file=self.target.kubeconfig, context=self.target.context)
        api.user_agent = self.target.api_client.user_agent
        where = f"{namespace}/{POD}"
        try:
            pod = client.CoreV1Api(api).read_namespaced_pod(POD, namespace)
            if (pod.status.phase or "") != "Running" or pod.metadata.deletion_timestamp is not None:
                raise TargetError(f"{what}: PostgreSQL's pod {where} is "
                                  f"{'Terminating' if pod.metadata.deletion_timestamp else pod.status.phase}; "
                                  f"nothing was changed")  # fmt: skip
            session = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, POD, namespace,
                             container=CONTAINER, command=argv, stdin=False, stdout=True, stderr=True, tty=False,
                             _preload_content=False, _request_timeout=EXEC_TIMEOUT_S)  # fmt: skip
            try:
                session.run_forever(timeout=EXEC_TIMEOUT_S)
                out, err = session.read_stdout(timeout=0), session.read_stderr(timeout=0)
                code, said = exit_status(session)
                return out, err or said, code
            finally:
                session.close()
        except ApiException as exc:
            reason = "no such pod" if exc.status == 404 else f"{exc.status} {exc.reason}".strip()
            raise TargetError(f"{what}: cannot exec psql in {where}: {reason}") from None
        finally:
            api.close()


def exit_status(session: Any) -> tuple[int | None, str]:
    """The command's exit status and the API's word on it, from the exec's status channel (``None``: still running
    when the time ran out; -1: the exec failed without one, e.g. no such container)."""
    from kubernetes.stream.ws_client import ERROR_CHANNEL

    if session.is_open():
        return None, ""
    raw = session.read_channel(ERROR_CHANNEL, timeout=0)
    try:
        status = json.loads(raw) if raw else {}
    except ValueError:
        return -1, str(raw)[:300]
    if status.get("status") == "Success":
        return 0, ""
    causes = (status.get("details") or {}).get("causes") or []
    codes = [c.get("message") for c in causes if c.get("reason") == "ExitCode"]
    try:
        return int(codes[0]), str(status.get("message") or "")
    except (IndexError, TypeError, ValueError):
        return -1, str(status.get("message") or "the exec ended without an exit status")
