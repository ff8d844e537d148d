#!/bin/bash
# initdb on first start (POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, as the official image reads
# them), then PostgreSQL in the foreground, listening on the pod's addresses with password auth.
# JIT is off: the data base image leaves LLVM out (drills/k8s/build/versions.py, BASE_EXCLUDES).
set -euo pipefail
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  mkdir -p "$PGDATA"; chmod 0700 "$PGDATA"
  pwfile=$(mktemp); printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [[ "$POSTGRES_DB" != "postgres" ]]; then
    postgres -D "$PGDATA" -c listen_addresses='' -k /tmp &
    pid=$!
    for _ in $(seq 50); do pg_isready -h /tmp -q && break; sleep 0.2; done
    createdb -h /tmp -U "$POSTGRES_USER" "$POSTGRES_DB"
    kill -INT "$pid"; wait "$pid" || true
  fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -k /tmp -c max_connections=100 -c jit=off
