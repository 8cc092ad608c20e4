"""Registry stage: the evaluation gate and promotion by MLflow aliases (never stages).

Entry point: :func:`include.registry.gate.evaluate_and_promote` (re-exported here), or its
steps :func:`register_challenger`, :func:`compare_with_champion`, :func:`promote`. Modules:
``gate`` (policy, scoring, decision, aliases), ``lock`` (serialized promotion, C3),
``footprint`` (single-row latency and size of a candidate, judged against the serving
budget), ``report`` (the side-by-side HTML), ``read`` (the public read API: the champion or
any version with its decision threshold), ``errors`` (:class:`PromotionRejected`,
:class:`ThresholdMissing`, ...).
Importing this package costs numpy + pandas; mlflow is imported inside the functions.
"""

from include.registry.errors import (
    ModelVersionNotFound,
    PromotionLockTimeout,
    PromotionRejected,
    ThresholdMissing,
)
from include.registry.gate import (
    compare_with_champion,
    evaluate_and_promote,
    promote,
    register_challenger,
)

__all__ = [
    "ModelVersionNotFound",
    "PromotionLockTimeout",
    "PromotionRejected",
    "ThresholdMissing",
    "compare_with_champion",
    "evaluate_and_promote",
    "promote",
    "register_challenger",
]
