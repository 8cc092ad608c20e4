"""Training stage: time split, candidate families, their MLflow runs.

Entry point: :func:`include.training.train.train_candidates` (re-exported here). Modules:
``split`` (checks, time split), ``xgb`` / ``mlp`` (the candidate families), ``search``
(seeded configs within the tuning budget), ``plots``, ``threads`` (OpenMP hygiene). Metrics,
MLflow plumbing and the pyfunc model are shared with the registry: ``include.modeling``.
Importing this package costs numpy + pandas; xgboost, torch, sklearn, matplotlib and mlflow
are imported inside the functions that use them.
"""

from include.modeling.errors import ModelReadBackFailed
from include.training.errors import TrainingDataInvalid, TrainingDiverged
from include.training.train import train_candidates

__all__ = ["ModelReadBackFailed", "TrainingDataInvalid", "TrainingDiverged", "train_candidates"]
