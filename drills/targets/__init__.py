"""Drill targets behind one small protocol: the local sandbox and Kubernetes."""
