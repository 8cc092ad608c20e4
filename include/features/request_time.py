"""The on-demand features of the feature service, defined once for training and serving.

``transaction_request_stats`` (``feature_repo/definitions.py``) needs the transaction being
scored, so it is computed at request time: Feast calls :func:`request_stats_frame` on a
frame (historical retrieval and ``get_online_features``), the serving path calls
:func:`request_stats` on one transaction without Feast or pandas. Both are built from the same
two scalar rules, so they can not drift apart (training/serving skew, fault C4):

* ``amount_to_customer_mean_<W>d`` = amount / the customer's mean amount over the longest
  window ``W``, only where that mean is > 0; otherwise null (NaN): no history, a zero mean
  or a missing customer give no ratio, never 0 or infinity;
* ``hour_of_day`` = the hour (0-23) of the event time **in UTC**.

Feast stores the on-demand function's source and runs it elsewhere, so the frame form names
nothing from the spec: the longest-window mean is found among its input columns by name
(``customer_amount_mean_<W>d``). The names here must equal ``include.features.schema``'s;
``tests/unit/features/test_request_time.py`` checks that they do. Importing this module costs
the standard library only (pandas is imported inside the frame form).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MEAN_PREFIX = "customer_amount_mean_"  # + "<W>d": a customer view feature
RATIO_PREFIX = "amount_to_customer_mean_"  # + "<W>d": the ratio's name, same window
HOUR_OF_DAY = "hour_of_day"
AMOUNT = "amount"  # the request fields (as in include.features.schema)
TIMESTAMP = "event_timestamp"


def ratio_feature(window_days: int) -> str:
    """The ratio feature's name for the customer mean over ``window_days``."""
    return f"{RATIO_PREFIX}{window_days}d"


def longest_mean(columns: Iterable[str]) -> tuple[str, int]:
    """The longest-window customer mean among ``columns`` and its window in days."""
    windows = {
        c: int(c[len(MEAN_PREFIX) : -1])
        for c in columns
        if c.startswith(MEAN_PREFIX) and c.endswith("d") and c[len(MEAN_PREFIX) : -1].isdigit()
    }
    if not windows:
        raise KeyError(f"no {MEAN_PREFIX}<W>d column among {sorted(columns)}")
    column = max(windows, key=windows.__getitem__)
    return column, windows[column]


def amount_to_mean(amount: float, mean: float | None) -> float:
    """``amount / mean`` where ``mean > 0``; NaN for a null, NaN, zero or negative mean."""
    if mean is None or not mean > 0:  # NaN > 0 is False
        return math.nan
    return float(amount) / float(mean)


def hour_of_day(event_timestamp: datetime) -> int:
    """The UTC hour of a tz-aware time (a naive one is refused: its zone is unknown)."""
    if event_timestamp.tzinfo is None or event_timestamp.utcoffset() is None:
        raise ValueError(
            f"{TIMESTAMP} must be tz-aware, got naive {event_timestamp!r}: "
            "the hour of day is taken in UTC"
        )
    return event_timestamp.astimezone(UTC).hour


def request_stats(
    amount: float, event_timestamp: datetime, customer_mean: float | None, *, window_days: int
) -> dict[str, float | int]:
    """The on-demand features of one transaction (serving): the ratio to the customer's mean
    over ``window_days`` (the longest customer window) and the UTC hour."""
    return {
        ratio_feature(window_days): amount_to_mean(amount, customer_mean),
        HOUR_OF_DAY: hour_of_day(event_timestamp),
    }


def request_stats_frame(inputs: pd.DataFrame) -> pd.DataFrame:
    """The same features for a frame (Feast's on-demand view): ``inputs`` holds ``amount``,
    ``event_timestamp`` and the customer means; returns one column per feature, same index.
    Vectorised, but the same arithmetic as :func:`amount_to_mean` / :func:`hour_of_day`."""
    import pandas as pd

    mean_col, window = longest_mean(inputs.columns)
    mean = inputs[mean_col].astype("float64")
    out = pd.DataFrame(index=inputs.index)
    out[ratio_feature(window)] = inputs[AMOUNT].astype("float64") / mean.where(mean > 0)
    out[HOUR_OF_DAY] = pd.to_datetime(inputs[TIMESTAMP], utc=True).dt.hour.astype("int64")
    return out
