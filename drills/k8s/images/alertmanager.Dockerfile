# Alertmanager from Debian; same flags as the upstream image.
ARG BASE
FROM ${BASE}
ARG KEY=dev
LABEL io.gameday.key=${KEY}
USER 65534
EXPOSE 9093
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
