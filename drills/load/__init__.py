"""Locust load for drills: the locustfile and a runner that keeps Locust in its own process (it
monkey-patches everything it imports)."""
