"""``python -m drills.service --port 18081 --version <release>``: one backend replica (a "container").

The same entry point runs in the sandbox (127.0.0.1, one process per replica) and in the Kubernetes image
(``--host 0.0.0.0 --migrate``, settings from the pod's environment; drills/k8s/manifests/backend.yaml).
"""

from __future__ import annotations

import argparse
import os
import sys

import psycopg

from gameday.releases import HEALTHY, release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drills.service")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--version", default=os.environ.get("APP_VERSION", HEALTHY.version),
                        help="a release of the catalogue (gameday.releases)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--pool-size", type=int, default=int(os.environ.get("DB_POOL_SIZE", "4")))
    parser.add_argument("--pool-timeout", type=float, default=float(os.environ.get("DB_POOL_TIMEOUT", "2")))
    parser.add_argument("--upstream-url", default=os.environ.get("UPSTREAM_URL"))
    parser.add_argument("--knobs-file", default=os.environ.get("GAMEDAY_KNOBS_FILE"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("GAMEDAY_SEED", "0")))
    parser.add_argument("--migrate", action="store_true", default=bool(os.environ.get("GAMEDAY_MIGRATE")),
                        help="create and seed the schema first (idempotent; replicas take turns)")
    args = parser.parse_args(argv)

    rel = release(args.version)
    url = rel.database_url_override or args.database_url
    if not url:
        print("Cannot connect to database: DATABASE_URL is not set", file=sys.stderr, flush=True)
        return 1
    try:  # fail fast like the real service: no database, no start (-> CrashLoopBackOff)
        with psycopg.connect(url, connect_timeout=3, prepare_threshold=None) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"Cannot connect to database: {str(exc).strip().splitlines()[0]}", file=sys.stderr, flush=True)
        return 1
    if args.migrate or rel.schema > 1:  # a release on a newer schema migrates forward as it starts
        from drills.service.schema import migrate

        migrate(url, rel.schema)

    import uvicorn

    from drills.service.app import Settings, create_app

    settings = Settings(database_url=url, release=rel, pool_size=args.pool_size, pool_timeout_s=args.pool_timeout,
                        upstream_url=args.upstream_url, knobs_file=args.knobs_file,
                        seed=args.seed + args.port)
    print(f"hospital-erp-backend {rel.version} listening on {args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning",
                access_log=False, lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
