"""Reference SimPy model of the on-call pool, to cross-check the kernel's queue recursion.

The kernel resolves the only coupling between incidents -- ``c`` on-call responders, first come first
served in order of detection -- with a heap recursion instead of SimPy events, for speed.  This is the
same pool written the idiomatic SimPy way (a :class:`simpy.Resource` used with ``with request()``), fed
the kernel's own detection and hold times; the tests require both to give the same waits.
"""

from __future__ import annotations

import numpy as np
import simpy


def simpy_waits(detected: np.ndarray, hold: np.ndarray, oncall: int) -> np.ndarray:
    """Wait (minutes) of each incident for a free responder, simulated with SimPy."""
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=oncall)
    waits = np.zeros(detected.size)

    def incident(i: int):
        with pool.request() as req:
            yield req
            waits[i] = env.now - detected[i]
            yield env.timeout(hold[i])

    def source():
        # requests are made in detection order (ties keep their index order), as in the kernel
        for i in np.argsort(detected, kind="stable").tolist():
            yield env.timeout(max(0.0, detected[i] - env.now))
            env.process(incident(i))

    env.process(source())
    env.run()
    return waits
