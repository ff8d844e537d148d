"""Discrete-event simulation of incident lifecycles: policies, CRN comparison, detectability, calibration."""
