"""Named failures of the training stage (house style: one exception per failure kind)."""

from __future__ import annotations


class TrainingDataInvalid(ValueError):
    """The training frame cannot be trained on as given.

    The message names the column or split part and what was expected; nothing was logged to
    MLflow and nothing was registered.
    """


class TrainingDiverged(RuntimeError):
    """A candidate's loss (or its predictions) became NaN/inf or exploded: fault C2.

    Raised as soon as it is seen, so the MLflow runs end FAILED and nothing is registered.
    Usual causes: a learning rate far too high, or non-finite values in the features.
    """

    def __init__(self, family: str, config: dict[str, object], where: str) -> None:
        self.family = family
        self.config = dict(config)
        self.where = where
        super().__init__(
            f"{family} training diverged ({where}) with config {self.config}: the loss is "
            "not finite or exploded. Lower the learning rate or check the features for "
            "NaN/inf; the runs are marked FAILED and no model was registered."
        )
