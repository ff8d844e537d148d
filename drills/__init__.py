"""Game days on real targets: sandbox or Kubernetes, faults, load, observers, autopilot."""
