"""Features stage: point-in-time feature tables, the Feast store, training and serving reads.

Modules (none imports Feast at import time; only ``store``/``training_set`` use it inside):

* ``schema``       view names, feature columns, table locations (from the use-case spec)
* ``compute``      point-in-time correct feature rows (pandas)
* ``tables``       per-partition offline tables from the lake, written atomically
* ``online_store`` Feast online stores that never let an older row overwrite a newer one (A7)
* ``store``        RepoConfig from settings, apply the definitions, guarded materialization
* ``training_set`` ``historical_features`` (training) and ``online_features`` (serving)

What the ``materialize_features`` DAG's tasks call is ``include.steps.materialize_features``.
"""
