#!/bin/bash
# Writes pgbouncer.ini and the auth file from the environment (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD,
# DB_NAME, LISTEN_PORT, AUTH_TYPE, ADMIN_USERS, POOL_MODE, DEFAULT_POOL_SIZE, MAX_CLIENT_CONN,
# QUERY_WAIT_TIMEOUT, IDLE_TRANSACTION_TIMEOUT), then runs PgBouncer in the foreground.
set -euo pipefail
: "${DB_HOST:?}" "${DB_USER:?}" "${DB_PASSWORD:?}" "${DB_NAME:?}"
dir=$(mktemp -d)
printf '"%s" "%s"\n' "$DB_USER" "$DB_PASSWORD" > "$dir/userlist.txt"
cat > "$dir/pgbouncer.ini" <<INI
[databases]
${DB_NAME} = host=${DB_HOST} port=${DB_PORT:-5432} dbname=${DB_NAME}
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = ${LISTEN_PORT:-6432}
unix_socket_dir =
auth_type = ${AUTH_TYPE:-scram-sha-256}
auth_file = $dir/userlist.txt
admin_users = ${ADMIN_USERS:-$DB_USER}
stats_users = ${ADMIN_USERS:-$DB_USER}
pool_mode = ${POOL_MODE:-transaction}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = ${MAX_CLIENT_CONN:-500}
query_wait_timeout = ${QUERY_WAIT_TIMEOUT:-120}
idle_transaction_timeout = ${IDLE_TRANSACTION_TIMEOUT:-0}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
INI
exec pgbouncer "$dir/pgbouncer.ini"
