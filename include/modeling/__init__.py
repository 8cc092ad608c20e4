"""Shared modeling plumbing, used by training, the registry, and (next) serving and monitoring.

``metrics`` (PR-AUC, ROC-AUC, recall at a false-positive rate, calibration), ``tracking``
(MLflow set-up, batched logging, logging a model and reading it back), ``probability_model``
(the "models from code" pyfunc MLflow executes on load; not imported here), ``digests``
(content digests of frames). It imports no stage: stages import it.
"""
