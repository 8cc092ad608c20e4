"""Named failures of batch scoring (house style: one exception per failure kind).

A version without its decision threshold is the registry's
:class:`include.registry.errors.ThresholdMissing`, raised as it is.
"""

from __future__ import annotations


class NothingToScore(LookupError):
    """The run names no day with a validated transactions partition (a labels-only day, an
    empty range, a young lake) or there is no champion yet: the run is skipped, not failed."""


class PartitionNotScorable(ValueError):
    """A day asked for by name has no validated transactions partition, or an empty one
    (validation refuses empty batches, so an empty published partition is a broken lake)."""


class FeaturesNotComputed(RuntimeError):
    """The day's feature tables are missing: scoring it would flag every row as unscored.
    Run ``materialize_features`` for the day (``start_date``/``end_date``), then re-score."""


class ModelInputsUnavailable(LookupError):
    """The model takes a column the feature service does not return (another version)."""


class ModelOutputInvalid(RuntimeError):
    """The model returned something other than one probability in [0, 1] per row."""
