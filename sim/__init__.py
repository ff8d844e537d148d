"""SimPy models of incident lifecycles and responders, driven by the runbook model and a policy."""
