"""Request-time features: named transforms, defined once for training and serving.

A spec's ``features.request.transforms`` names functions from :data:`TRANSFORMS`. They need the
event being scored, so they are computed at request time: Feast calls :func:`frame_function`'s
result on a frame (historical retrieval, ``get_online_features``), and the serving path calls
:func:`compute` on one event without Feast or pandas. Both apply the same scalar rules, so
they can not drift apart (training/serving skew, fault C4):

* ``ratio(a, b)`` = a / b where b > 0; otherwise null (NaN): no history, a zero or a missing
  denominator give no ratio, never 0 or infinity;
* ``difference(a, b)`` = a - b (NaN if either is);
* ``value(a)`` = a as a number (a request field used as a feature as it is);
* ``log1p(a)`` = log(1 + a) for a > -1, else NaN;
* ``hour_of_day(t)`` = the hour (0-23) of the event time **in UTC**;
* ``day_of_week(t)`` = the weekday in UTC, Monday 0 to Sunday 6.

Feast stores the on-demand function (dill) and runs it elsewhere, so
:func:`frame_function` returns a closure over plain data (names and transform names) whose
body only calls this module. Importing this module costs the standard library only (pandas
and numpy are imported by the frame form).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _ratio(a: Any, b: Any) -> float:
    a, b = _number(a), _number(b)
    return a / b if b > 0 else math.nan  # NaN > 0 is False


def _difference(a: Any, b: Any) -> float:
    return _number(a) - _number(b)


def _log1p(a: Any) -> float:
    a = _number(a)
    return math.log1p(a) if a > -1 else math.nan


def _utc(ts: datetime) -> datetime:
    if not isinstance(ts, datetime) or ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(
            f"the event time must be a tz-aware datetime, got {ts!r}: hour and weekday "
            "are taken in UTC"
        )
    return ts.astimezone(UTC)


def hour_of_day(ts: datetime) -> int:
    """The UTC hour of a tz-aware time (a naive one is refused: its zone is unknown)."""
    return _utc(ts).hour


def day_of_week(ts: datetime) -> int:
    return _utc(ts).weekday()


# name -> the scalar rule. include.spec.REQUEST_TRANSFORMS lists the same names with their
# input counts (tests/unit/spec checks they match).
TRANSFORMS: dict[str, Callable[..., float | int]] = {
    "ratio": _ratio,
    "difference": _difference,
    "value": _number,
    "log1p": _log1p,
    "hour_of_day": hour_of_day,
    "day_of_week": day_of_week,
}


def compute(
    transforms: Sequence[tuple[str, str, Sequence[str]]], values: Mapping[str, Any]
) -> dict[str, float | int]:
    """One event's request-time features: ``transforms`` are (feature, function, inputs);
    ``values`` holds the request fields and the stored features by name."""
    return {name: TRANSFORMS[fn](*(values[i] for i in inputs)) for name, fn, inputs in transforms}


def _frame_column(fn: str, args: list[pd.Series]) -> pd.Series:
    """The vectorised form of one rule (the same arithmetic as the scalar one)."""
    import numpy as np
    import pandas as pd

    if fn in ("hour_of_day", "day_of_week"):
        ts = pd.to_datetime(args[0], utc=True)
        return (ts.dt.hour if fn == "hour_of_day" else ts.dt.weekday).astype("int64")
    nums = [a.astype("float64") for a in args]
    if fn == "ratio":
        return nums[0] / nums[1].where(nums[1] > 0)
    if fn == "difference":
        return nums[0] - nums[1]
    if fn == "log1p":
        return np.log1p(nums[0].where(nums[0] > -1))
    if fn == "value":
        return nums[0]
    raise KeyError(f"unknown request transform {fn!r}; known: {sorted(TRANSFORMS)}")


def frame(
    transforms: Sequence[tuple[str, str, Sequence[str]]], inputs: pd.DataFrame
) -> pd.DataFrame:
    """The request-time features of a frame: one column per transform, same index."""
    import pandas as pd

    out = pd.DataFrame(index=inputs.index)
    for name, fn, args in transforms:
        out[name] = _frame_column(fn, [inputs[a] for a in args])
    return out


def frame_function(
    transforms: Sequence[tuple[str, str, Sequence[str]]],
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Feast's on-demand function for ``transforms``: a closure over plain tuples."""
    import pandas as pd

    plan = tuple((str(n), str(f), tuple(map(str, a))) for n, f, a in transforms)

    def request_features(inputs):  # noqa: ANN001, ANN202 (annotated below, for Feast)
        from include.features.request_time import frame

        return frame(plan, inputs)

    # Feast reads the hints (strings under this module's future import would not resolve).
    request_features.__annotations__ = {"inputs": pd.DataFrame, "return": pd.DataFrame}
    return request_features
