# PgBouncer from Debian, configured from the environment the common edoburu/pgbouncer image reads.
ARG BASE
FROM ${BASE}
ARG KEY=dev
LABEL io.gameday.key=${KEY}
COPY pgbouncer-entrypoint.sh /usr/local/bin/pgbouncer-entrypoint
USER postgres
EXPOSE 6432
ENTRYPOINT ["/usr/local/bin/pgbouncer-entrypoint"]
