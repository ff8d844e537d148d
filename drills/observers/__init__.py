"""What a drill watches while it runs: Alertmanager's webhook, Prometheus, the replicas, the journal.

Each observer is a small thread that turns what it sees into journal events; none of them decides
anything (the runner and the autopilot do).
"""
