"""The Kubernetes target, under the name the runner and recovery import it by.

It lives in :mod:`drills.k8s.target` next to its manifests, watch and kind helpers.
"""

from drills.k8s.target import KubernetesTarget

__all__ = ["KubernetesTarget"]
