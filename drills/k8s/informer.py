"""One namespace's objects of one kind, kept current by list-then-watch (what client-go calls an informer).

The in-cluster helpers (gateway, cluster exporter) used to re-list every 0.5-1 s: on a 2-core machine that also
runs the drills, that was steady CPU in the API server and in the pods for lists that had mostly not changed.
A watch delivers each change once, as soon as the API server has it.  Every watch starts from a fresh list
(after ``WATCH_TIMEOUT_S`` or an error), so a missed event lasts one watch at most.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

#: The server ends each watch after this long (seconds); a fresh list and watch follow.
WATCH_TIMEOUT_S = 120
#: Pause after an error before listing again (seconds).
RETRY_S = 1.0


class WatchedList:
    """``list_call(*args, **kwargs)``'s objects by name, current to the last watch event.

    ``on_change`` runs on the watch thread after the first list and after every change; ``what`` names the
    objects in the error lines the pod's log gets (the last known objects are kept meanwhile).
    """

    def __init__(self, list_call: Callable[..., Any], *args: Any, what: str,
                 on_change: Callable[[], None] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self._list_call, self._args, self._kwargs = list_call, args, kwargs
        self.what = what
        self._on_change = on_change or (lambda: None)
        self._objects: dict[str, Any] = {}
        self._listed = threading.Event()
        self._stopped = threading.Event()

    def start(self) -> WatchedList:
        threading.Thread(target=self._loop, name=f"watch {self.what}", daemon=True).start()
        return self

    def stop(self) -> None:
        """The thread ends within ``WATCH_TIMEOUT_S`` (at its watch's end); the pods never stop it, tests do."""
        self._stopped.set()

    def wait_listed(self, timeout: float) -> bool:
        """True once the first list has arrived."""
        return self._listed.wait(timeout)

    def items(self) -> list[Any]:
        """The objects now, sorted by name (a copy: the watch thread may change the map meanwhile)."""
        objects = dict(self._objects)
        return [objects[name] for name in sorted(objects)]

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self._list_then_watch()
            except Exception as exc:  # keep the last objects; say why in the pod's log
                print(f"watch {self.what}: {exc}", file=sys.stderr, flush=True)
                self._stopped.wait(RETRY_S)

    def _list_then_watch(self) -> None:
        from kubernetes import watch

        listed = self._list_call(*self._args, **self._kwargs, _request_timeout=5)
        self._objects = {item.metadata.name: item for item in listed.items}
        self._listed.set()
        self._on_change()
        stream = watch.Watch().stream(
            self._list_call, *self._args, **self._kwargs, resource_version=listed.metadata.resource_version,
            timeout_seconds=WATCH_TIMEOUT_S, _request_timeout=WATCH_TIMEOUT_S + 10,
        )  # fmt: skip
        for event in stream:
            if self._stopped.is_set():
                return
            item = event["object"]
            if event["type"] == "DELETED":
                self._objects.pop(item.metadata.name, None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                self._objects[item.metadata.name] = item
            else:  # ERROR (e.g. 410 Gone): list again
                return
            self._on_change()
