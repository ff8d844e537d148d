# gameday's cluster exporter: pod and Deployment states under kube-state-metrics' names (read with the
# kubernetes client) and PgBouncer's SHOW POOLS under pgbouncer_exporter's names, so the alert rules read
# the same on the sandbox and on a cluster.
ARG BASE
FROM ${BASE}
ARG KEY=dev
LABEL io.gameday.key=${KEY}
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY app/ /app/
USER 65534
EXPOSE 9100
CMD ["python", "-m", "drills.k8s.exporter"]
