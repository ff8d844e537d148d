"""Policy sweeps: a grid or an Optuna search over policy fields on common random numbers (issue #13).

``spec`` (the ``kind: sweep`` file and ``--vary``) -> ``plan`` (points and tasks, all checked first) ->
``execute`` (local processes or a Dask cluster) -> ``run`` (the tidy table, the best point) ->
``output`` (Parquet/CSV, Pareto plot, the best point as a policy file).
"""
