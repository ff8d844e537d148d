# gameday's own cluster components, one image: the exporter (pod and Deployment states under
# kube-state-metrics' names, PgBouncer's SHOW POOLS under pgbouncer_exporter's; the default command) and the
# ingress gateway (drills/k8s/gateway.py), both on the python base with the kubernetes client.
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
