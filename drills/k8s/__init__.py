"""The Kubernetes drill target: manifests, the target, the kubectl watch and the kind helpers."""
