"""The on-call pool: a FIFO :class:`simpy.Resource` that settles uncontended requests on the spot.

Used exactly like its base class (``with pool.request() as req: yield req``; leaving the ``with`` block
releases).  What differs is the cost of the common case, a request that finds a free responder and nobody
queued: stock SimPy grants it by scheduling the request event and resumes the process when that event is
processed, then schedules a ``Release`` event on release that only looks for queued requests.  Here such a
request is created *already processed* -- SimPy resumes a process that yields a processed event at once,
without a trip through the event queue -- and its release, with nobody queued, just frees the slot.

Whenever a request is queued, every request and release goes through SimPy's own code, so who is served
when is exactly stock SimPy's FIFO.  The only difference is that an uncontended grant no longer waits for the
other events of the same instant; it happens at the same simulated time.  Uncontended grants and releases
are not SimPy events any more, so they are not in the engine's event count.
"""

from __future__ import annotations

from typing import Any

import simpy
from simpy.core import BoundClass
from simpy.events import Event
from simpy.resources.resource import Request


class PoolRequest(Request):
    """A request for one responder: granted on creation (processed) when one is free and none queued."""

    def __init__(self, resource: OnCallPool) -> None:
        if resource.put_queue or len(resource.users) >= resource._capacity:
            super().__init__(resource)  # SimPy's own queueing
            return
        env = resource._env
        self.env = env
        self.resource = resource
        self.proc = env._active_proc
        self.callbacks = None  # processed: yielding it resumes the process at once
        self._ok = True
        self._value = None
        self.usage_since = env._now
        resource.users.append(self)

    def __exit__(self, exc_type, exc_value, traceback) -> None:  # type: ignore[no-untyped-def]
        """Leaving the ``with`` block normally with nobody queued: the request was granted, so there is
        nothing to cancel and no one to serve -- free the responder directly (SimPy's path otherwise)."""
        resource = self.resource
        if exc_type is None and not resource.put_queue:
            users = resource.users
            if self in users:  # else already released
                users.remove(self)
            return None
        return super().__exit__(exc_type, exc_value, traceback)


class OnCallPool(simpy.Resource):
    """FIFO pool of ``capacity`` on-call responders (see the module docstring for what is settled on the spot)."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        super().__init__(env, capacity)
        settled = Event(env)
        settled._ok, settled._value, settled.callbacks = True, None, None
        self._settled = settled

    #: ``pool.request()`` makes a :class:`PoolRequest` (bound the way SimPy binds its own request class)
    request = BoundClass(PoolRequest)  # type: ignore[assignment]

    def release(self, request: Request) -> Any:  # type: ignore[override]
        """Free the request's responder; with someone queued, SimPy's ``Release`` event serves the next in line."""
        if self.put_queue:
            return super().release(request)
        users = self.users
        if request in users:  # else it was never granted (cancelled while queued)
            users.remove(request)
        return self._settled
