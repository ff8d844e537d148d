"""The local sandbox: real PostgreSQL, PgBouncer, Prometheus, Alertmanager and N backend replicas under one
supervisord, all on loopback ports, all state under one directory."""
