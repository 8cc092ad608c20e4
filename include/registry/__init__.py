"""Registry stage: the evaluation gate and promotion by MLflow aliases (never stages).

Entry point: :func:`include.registry.gate.evaluate_and_promote` (re-exported here), or its
steps :func:`register_challenger`, :func:`compare_with_champion`, :func:`promote`. Modules:
``gate`` (policy, scoring, decision, aliases), ``lock`` (serialized promotion, C3),
``report`` (the side-by-side HTML), ``errors`` (:class:`PromotionRejected`).
Importing this package costs numpy + pandas; mlflow is imported inside the functions.
"""

from include.registry.errors import PromotionLockTimeout, PromotionRejected
from include.registry.gate import (
    compare_with_champion,
    evaluate_and_promote,
    promote,
    register_challenger,
)

__all__ = [
    "PromotionLockTimeout",
    "PromotionRejected",
    "compare_with_champion",
    "evaluate_and_promote",
    "promote",
    "register_challenger",
]
