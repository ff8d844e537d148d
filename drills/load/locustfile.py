"""Hospital-ERP traffic: patient look-ups, appointment searches and bookings.

Run by :func:`drills.load.runner.start_load`; the load shape comes from ``GAMEDAY_LOAD_SHAPE`` (JSON of
:class:`gameday.scenario.LoadShape` plus ``duration_s``).  Traffic only goes to ``--host``, which the
runner always sets to a loopback URL.
"""

from __future__ import annotations

import json
import os
import random

from locust import HttpUser, LoadTestShape, between, task

SHAPE = json.loads(os.environ.get("GAMEDAY_LOAD_SHAPE", "{}"))
_WAIT = SHAPE.get("wait_seconds") or (0.05, 0.2)
PATIENTS = 200
DEPARTMENTS = ("radiology", "cardiology", "oncology", "pediatrics", "surgery")
SPIKE_PERIOD_S = 20.0  # spike without a duration: baseline and peak alternate every half period


class Clinician(HttpUser):
    wait_time = between(float(_WAIT[0]), float(_WAIT[1]))

    @task(4)
    def patient_record(self) -> None:
        self.client.get(f"/api/patients/{random.randint(1, PATIENTS)}", name="/api/patients/{id}")

    @task(2)
    def ward_list(self) -> None:
        self.client.get("/api/patients", params={"limit": 20})

    @task(3)
    def search_appointments(self) -> None:
        self.client.get("/api/appointments", params={"department": random.choice(DEPARTMENTS)})

    @task(1)
    def patient_appointments(self) -> None:
        pid = random.randint(1, PATIENTS)
        self.client.get(f"/api/patients/{pid}/appointments", name="/api/patients/{id}/appointments")

    @task(1)
    def book(self) -> None:
        self.client.post("/api/appointments", json={
            "patient_id": random.randint(1, PATIENTS), "department": random.choice(DEPARTMENTS),
            "starts_at": f"2026-03-{random.randint(1, 28):02d}T{random.randint(8, 17):02d}:00:00Z"})


class ScenarioShape(LoadTestShape):
    """steady | ramp | spike, stopping after ``duration_s`` when one is given."""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        duration = SHAPE.get("duration_s")
        if duration is not None and t >= float(duration):
            return None
        users = int(SHAPE.get("users", 20))
        peak = int(SHAPE.get("peak_users") or users)
        rate = float(SHAPE.get("spawn_rate", 10.0))
        kind = SHAPE.get("shape", "steady")
        if kind == "ramp":
            span = float(duration) if duration else 60.0
            return max(1, round(users + (peak - users) * min(1.0, t / span))), rate
        if kind == "spike":
            if duration:
                third = float(duration) / 3
                in_spike = third <= t < 2 * third
            else:
                in_spike = (t % SPIKE_PERIOD_S) >= SPIKE_PERIOD_S / 2
            return (peak if in_spike else users), max(rate, float(peak))
        return users, rate
