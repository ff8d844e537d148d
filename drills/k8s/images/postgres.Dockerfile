# PostgreSQL 15 from Debian, configured from the same environment as the official image
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA).
ARG BASE
FROM ${BASE}
ARG KEY=dev
LABEL io.gameday.key=${KEY}
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data/pgdata
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
