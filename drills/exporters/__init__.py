"""Prometheus collectors shared by the sandbox's exporter and the cluster exporter, under the upstream
exporters' metric names (pgbouncer_exporter, kube-state-metrics) so one set of alert rules reads both."""
