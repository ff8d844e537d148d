"""Fault actuators: each target's way of injecting and reverting the catalogue's faults (:mod:`gameday.faults`).

One class per fault per target, registered by fault type (:class:`drills.faults.base.FaultRegistry`):
``drills.faults.local.LOCAL_FAULTS`` for the sandbox, ``drills.k8s.faults.KUBE_FAULTS`` for Kubernetes.
"""
