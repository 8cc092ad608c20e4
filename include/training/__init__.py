"""Training stage: time split, candidate families, metrics, MLflow tracking.

Entry point: :func:`include.training.train.train_candidates` (re-exported here). Modules:
``split`` (checks, time split), ``xgb`` / ``mlp`` (the candidate families), ``search``
(seeded configs within the tuning budget), ``metrics``, ``plots``, ``tracking`` (MLflow
plumbing), ``probability_model`` (the pyfunc MLflow executes on load; not imported here),
``threads`` (OpenMP hygiene), ``sample_data`` (simulator-derived frames for tests/bench).
Importing this package costs numpy + pandas; xgboost, torch, sklearn, matplotlib and mlflow
are imported inside the functions that use them.
"""

from include.training.errors import ModelReadBackFailed, TrainingDataInvalid, TrainingDiverged
from include.training.train import train_candidates

__all__ = ["ModelReadBackFailed", "TrainingDataInvalid", "TrainingDiverged", "train_candidates"]
