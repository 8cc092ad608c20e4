"""Warm-up per feature: which features a young platform can already judge for drift.

A feature over a ``W``-day window (``include.features.schema.feature_windows``) has its
full value only at a time whose ``W`` days of history the lake holds: from
``history_start + W`` on (``history_start``: the first published events partition). Before
that its rolling counts grow with the platform's age, not with production, so comparing
them is comparing ages. Each feature is therefore judged on the rows, of the reference (the
champion's training set) and of the current window alike, stamped on or after the day its
window filled; the other rows are set aside for that feature (masked to NaN: Evidently
drops them). A feature with fewer than ``min_rows`` such rows on either side is *warming
up*: it is listed with the day its window filled and is not part of the drift share.

So a raw request field (window 0) is judged on the first night, a 1-day mean from the
platform's second day on, and a 30-day count only once the champion learned from rows
30 days into the history (a retrain after that day brings it in). A reference drawn
entirely after every window filled (an old platform) is judged on every row, as before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class FeatureWarmup:
    """One feature's warm-up: its window, the day it filled, the rows it covers per side."""

    feature: str
    window_days: int
    filled_on: date  # rows stamped on or after this day have their full window
    reference_rows: int  # reference rows from filled_on on
    current_rows: int  # current rows from filled_on on
    current_set_aside: int  # current rows before filled_on
    min_rows: int

    @property
    def reference_short(self) -> bool:
        return self.reference_rows < self.min_rows

    @property
    def current_short(self) -> bool:
        """Too few current rows *because* some were set aside (a thin window is not warm-up:
        the minimum sample guard answers it)."""
        return self.current_set_aside > 0 and self.current_rows < self.min_rows

    @property
    def judged(self) -> bool:
        return not (self.reference_short or self.current_short)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["filled_on"] = self.filled_on.isoformat()
        return out


def _days(stamps: pd.Series) -> pd.Series:
    return pd.to_datetime(stamps, utc=True).dt.tz_localize(None).dt.normalize()


def plan(
    windows: dict[str, int],
    history_start: date,
    reference_stamps: pd.Series,
    current_stamps: pd.Series,
    min_rows: int,
) -> dict[str, FeatureWarmup]:
    """Each feature's warm-up (module docstring), from the event times of both sides."""
    ref_days, cur_days = _days(reference_stamps), _days(current_stamps)
    out = {}
    for feature, w in windows.items():
        filled = history_start + timedelta(days=w)
        at = pd.Timestamp(filled)
        out[feature] = FeatureWarmup(
            feature=feature,
            window_days=w,
            filled_on=filled,
            reference_rows=int((ref_days >= at).sum()),
            current_rows=int((cur_days >= at).sum()),
            current_set_aside=int((cur_days < at).sum()),
            min_rows=min_rows,
        )
    return out


def mask(frame: pd.DataFrame, stamps: pd.Series, warmups: dict[str, FeatureWarmup]) -> pd.DataFrame:
    """``frame`` with each feature's values stamped before its window filled set to NaN
    (a copy; ``stamps``: the rows' event times, aligned with ``frame``)."""
    days = _days(stamps).to_numpy()
    out = frame.copy()
    for feature, w in warmups.items():
        if feature in out.columns:
            out[feature] = out[feature].astype("float64").where(days >= pd.Timestamp(w.filled_on))
    return out
