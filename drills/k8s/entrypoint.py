"""Container entrypoint of the backend image: ``python -m drills.k8s.entrypoint``.

Why not ``python -m drills.service``: in a pod the backend must listen on all interfaces (probes and
the Service reach it by pod IP) and the fault knobs arrive as environment variables (a config
rollout), not as a file that someone edits. The start-up database check is the same, so a bad
``DATABASE_URL`` makes the container exit and the pod go to CrashLoopBackOff, as in the sandbox.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import psycopg

from drills.service.knobs import write_knobs
from drills.service.releases import release

#: env var -> knob (see drills.service.knobs.Knobs)
KNOB_ENV = {
    "QUERY_LATENCY_S": "query_latency_s",
    "LATENCY_FRACTION": "latency_fraction",
    "UPSTREAM_ERROR_FRACTION": "upstream_error_fraction",
}


def knobs_from_env(env: dict[str, str]) -> dict[str, float]:
    return {knob: float(env[name]) for name, knob in KNOB_ENV.items() if env.get(name)}


def main() -> int:
    env = dict(os.environ)
    rel = release(env.get("APP_VERSION", "v1.2.2"))
    url = rel.database_url_override or env.get("DATABASE_URL")
    port = int(env.get("PORT", "8080"))
    if not url:
        print("Cannot connect to database: DATABASE_URL is not set", file=sys.stderr, flush=True)
        return 1
    try:
        with psycopg.connect(url, connect_timeout=3, prepare_threshold=None) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"Cannot connect to database: {str(exc).strip().splitlines()[0]}", file=sys.stderr, flush=True)
        return 1

    knobs_file = Path(env.get("GAMEDAY_KNOBS_FILE") or Path(tempfile.gettempdir()) / "knobs.json")
    write_knobs(knobs_file, **knobs_from_env(env))

    import uvicorn

    from drills.service.app import Settings, create_app

    settings = Settings(
        database_url=url,
        release=rel,
        pool_size=int(env.get("DB_POOL_SIZE", "4")),
        upstream_url=env.get("UPSTREAM_URL"),
        knobs_file=str(knobs_file),
        seed=int(env.get("GAMEDAY_SEED", "0")),
    )
    print(f"hospital-erp-backend {rel.version} listening on 0.0.0.0:{port}", flush=True)
    uvicorn.run(create_app(settings), host="0.0.0.0", port=port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
