"""Check a training frame and split it by event time into train / validation / holdout.

Input: one row per labelled transaction with a key, a UTC event time, numeric feature
columns, a 0/1 target and sensitive attributes (slices only, never features); the column
names come from the spec (:meth:`Columns.of`), the fractions from ``model.split``.
Output: a :class:`TimeSplit` whose parts are ordered in time (every train row is older than
every validation row, which is older than every holdout row), so a model is always judged on
transactions newer than the ones it learned from, as it will be in production.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from include.modeling.digests import frame_digest
from include.spec import SplitSpec, UseCaseSpec
from include.training.errors import TrainingDataInvalid

PARTS = ("train", "validation", "holdout")


@dataclass(frozen=True)
class Columns:
    """Column roles of a training frame."""

    features: tuple[str, ...]
    target: str
    timestamp: str
    key: str
    sensitive: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, spec: UseCaseSpec, features: Sequence[str], sensitive: Sequence[str] = ()
    ) -> Columns:
        """The roles of the spec's names: event key and time, the model's target."""
        names = spec.names
        return cls(
            features=tuple(features),
            target=names.target,
            timestamp=names.event_ts,
            key=names.tx_key,
            sensitive=tuple(sensitive),
        )

    @property
    def kept(self) -> list[str]:
        """Every column the stage uses, in a stable order (what the holdout file stores)."""
        return [self.key, self.timestamp, *self.features, self.target, *self.sensitive]


@dataclass(frozen=True)
class TimeSplit:
    """Three time-ordered, disjoint parts of one training frame."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    columns: Columns

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "validation": self.validation, "holdout": self.holdout}

    def digest(self) -> str:
        """SHA-256 of every kept column of the three parts, in split order (C8)."""
        parts = "".join(frame_digest(p, self.columns.kept) for p in self.parts().values())
        return hashlib.sha256(parts.encode()).hexdigest()

    def summary(self) -> dict[str, dict[str, Any]]:
        """Rows, positives and time range per part (JSON-able; logged and returned)."""
        out = {}
        for name, part in self.parts().items():
            ts = part[self.columns.timestamp]
            out[name] = {
                "rows": len(part),
                "positives": int(part[self.columns.target].sum()),
                "from": ts.min().isoformat(),
                "to": ts.max().isoformat(),
            }
        return out


@dataclass
class SplitArrays:
    """Model-ready arrays of a split (float32 features, 0/1 labels) shared by the trials of a
    family; ``cache`` holds a family's prepared inputs (XGBoost matrices, torch tensors) so a
    hyper-parameter search builds them once."""

    features: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, split: TimeSplit) -> SplitArrays:
        cols = split.columns

        def x(part: pd.DataFrame) -> np.ndarray:
            return feature_matrix(part, cols.features)

        def y(part: pd.DataFrame) -> np.ndarray:
            return part[cols.target].to_numpy(dtype=np.float32)

        return cls(
            cols.features, x(split.train), y(split.train), x(split.validation), y(split.validation)
        )

    @property
    def negatives_per_positive(self) -> float:
        positives = float(self.y_train.sum())
        return (len(self.y_train) - positives) / positives


def feature_matrix(
    frame: pd.DataFrame, features: Sequence[str], dtype: type = np.float32
) -> np.ndarray:
    """The features as a float matrix; nullable dtypes' ``pd.NA`` becomes NaN (missing)."""
    return frame[list(features)].astype("float64").to_numpy(dtype=dtype)


def check_frame(frame: pd.DataFrame, columns: Columns) -> None:
    """Raise :class:`TrainingDataInvalid` naming the first problem found."""
    if not columns.features:
        raise TrainingDataInvalid("no feature columns given")
    leaked = sorted(set(columns.sensitive) & set(columns.features))
    if leaked:
        raise TrainingDataInvalid(
            f"{leaked} are sensitive attributes (slices only) and must not be features"
        )
    if len(set(columns.features)) != len(columns.features):
        raise TrainingDataInvalid(f"duplicate feature names in {list(columns.features)}")
    missing = [c for c in columns.kept if c not in frame.columns]
    if missing:
        raise TrainingDataInvalid(f"training frame lacks columns {missing}")
    ts = frame[columns.timestamp]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype) or str(ts.dt.tz) != "UTC":
        raise TrainingDataInvalid(f"{columns.timestamp} must be tz-aware UTC, got {ts.dtype}")
    if ts.isna().any():
        raise TrainingDataInvalid(f"{columns.timestamp} has {int(ts.isna().sum())} nulls")
    if frame[columns.key].duplicated().any():
        raise TrainingDataInvalid(f"{columns.key} is not unique")
    target = frame[columns.target]
    if target.isna().any() or not target.isin([0, 1]).all():
        raise TrainingDataInvalid(f"{columns.target} must be 0/1 without nulls")
    for name in columns.features:
        if not pd.api.types.is_numeric_dtype(frame[name]):  # bool and nullable ints count
            raise TrainingDataInvalid(f"feature {name} must be numeric, got {frame[name].dtype}")
    values = feature_matrix(frame, columns.features, np.float64)
    infinite = np.isinf(values).any(axis=0)
    if infinite.any():
        names = [n for n, bad in zip(columns.features, infinite, strict=True) if bad]
        # NaN means "missing" and both families handle it; inf is a data error.
        raise TrainingDataInvalid(f"features {names} contain +/-inf")


def time_split(frame: pd.DataFrame, columns: Columns, split: SplitSpec) -> TimeSplit:
    """Sort by (event time, key) and cut at the spec's fractions of rows (``model.split``;
    a :class:`SplitSpec` is checked when built: each fraction > 0, summing to 1).

    A cut never separates rows with the same timestamp, so the parts are disjoint in time,
    not only in rows. Each part must hold both classes, or its metrics mean nothing.
    """
    check_frame(frame, columns)
    fractions = split.as_dict()
    shares = [fractions[p] for p in PARTS]
    ordered = (
        frame[columns.kept]
        .sort_values([columns.timestamp, columns.key], kind="stable")
        .reset_index(drop=True)
    )
    ts = ordered[columns.timestamp].to_numpy()
    n = len(ordered)
    cuts = []
    for cum in np.cumsum(shares[:2]):
        cut = int(round(n * cum))
        # Move the cut past rows sharing the boundary timestamp (searchsorted = first later).
        if 0 < cut < n:
            cut = int(np.searchsorted(ts, ts[cut - 1], side="right"))
        cuts.append(cut)
    bounds = [0, *cuts, n]
    parts = [
        ordered.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    for name, part in zip(PARTS, parts, strict=True):
        positives = int(part[columns.target].sum())
        if len(part) == 0 or positives in (0, len(part)):
            raise TrainingDataInvalid(
                f"the {name} part has {len(part)} rows and {positives} positives; every part "
                "needs both classes: widen the labelled window or change the split fractions"
            )
    return TimeSplit(*parts, columns=columns)
