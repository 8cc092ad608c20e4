"""The rules of batch scoring, on frames: no I/O, no model, no Feast (the unit tests' target).

* :func:`unscored_reasons` — which rows lack a feature row of one of their entities at or before
  their time within the TTL (the rule of Feast's point-in-time join): those rows are not
  scored on made-up values;
* :func:`decide` — score >= threshold → ``review``, else ``approve``; an unscored row gets the
  spec's ``serving.unscored_decision`` and a NaN score. The threshold is the one the gate
  stored with the version (``include.registry.read``), never a default.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from include.spec import DECISIONS

APPROVE, REVIEW = DECISIONS
MISSING, EXPIRED = "missing", "expired"
_UTC_NS = "datetime64[ns, UTC]"  # merge_asof needs both sides at the same resolution


def _typed_key(values: pd.Series, like: pd.Series) -> np.ndarray:
    """``values`` as the type of the events' key column ``like``: integer ids stay int64,
    any other key (a tail number, a code) is compared as text."""
    if pd.api.types.is_integer_dtype(like):
        return values.astype("int64").to_numpy()
    return values.astype(str).to_numpy(dtype=object)


def _latest_stamp(
    entity: pd.DataFrame, key: str, event_ts: str, stamps: pd.DataFrame, stamp_col: str
) -> pd.Series:
    """Per entity row, the newest stamp of its key at or before its time (NaT: none)."""
    left = pd.DataFrame(
        {
            key: _typed_key(entity[key], entity[key]),
            "_ts": pd.to_datetime(entity[event_ts], utc=True).astype(_UTC_NS).array,
            "_row": np.arange(len(entity)),
        }
    )
    right = pd.DataFrame(
        {
            key: _typed_key(stamps[key], entity[key]),
            "_ts": pd.to_datetime(stamps[stamp_col], utc=True).astype(_UTC_NS).array,
        }
    )
    right["_as_of"] = right["_ts"]
    hit = pd.merge_asof(
        left.sort_values("_ts", kind="stable"),
        right.sort_values("_ts", kind="stable"),
        on="_ts",
        by=key,
        direction="backward",  # at or before the entity time, as Feast's join
    )
    return hit.sort_values("_row")["_as_of"].reset_index(drop=True)


def unscored_reasons(
    entity: pd.DataFrame,
    event_ts: str,
    keys: Mapping[str, str],
    stamps: Mapping[str, pd.DataFrame],
    stamp_col: str,
    ttl: pd.Timedelta,
) -> pd.Series:
    """Why each row of ``entity`` can not be scored, or None where it can.

    ``keys``: entity name → join key column (of ``entity`` and of its ``stamps`` frame);
    ``stamps``: entity name → its feature rows' keys and stamps (``stamp_col``), an entity
    absent from it has no rows. A row's entity is *missing* when no feature row is stamped at
    or before the row's time, *expired* when the newest one is older than ``ttl`` (Feast would
    drop the row, A8). Reasons read ``<entity>_features_missing``; several are joined by ``,``.
    """
    times = pd.to_datetime(entity[event_ts], utc=True).reset_index(drop=True)
    joined = np.full(len(entity), "", dtype=object)
    for name, key in keys.items():
        table = stamps.get(name)
        if table is None:
            table = pd.DataFrame(
                {key: pd.Series(dtype=entity[key].dtype), stamp_col: pd.Series(dtype=_UTC_NS)}
            )
        as_of = _latest_stamp(entity, key, event_ts, table, stamp_col)
        missing = as_of.isna().to_numpy()
        expired = ~missing & ((times - as_of) > ttl).to_numpy()
        for mask, kind in ((missing, MISSING), (expired, EXPIRED)):
            sep = np.where(joined[mask] == "", "", ",").astype(object)
            joined[mask] = joined[mask] + sep + f"{name}_features_{kind}"
    joined[joined == ""] = None
    return pd.Series(joined, index=entity.index, dtype=object)


def decide(scores: np.ndarray, scored: np.ndarray, threshold: float, unscored: str) -> np.ndarray:
    """``review`` where a scored row's score >= ``threshold``, else ``approve``; rows not
    ``scored`` get ``unscored`` (the spec's ``serving.unscored_decision``) whatever their
    score says."""
    if unscored not in DECISIONS:
        raise ValueError(f"unscored decision {unscored!r} is not one of {DECISIONS}")
    scores = np.asarray(scores, dtype=np.float64)
    scored = np.asarray(scored, dtype=bool)
    if scored.shape != scores.shape:
        raise ValueError(f"{scores.shape} scores for {scored.shape} scored flags")
    if np.isnan(scores[scored]).any():
        raise ValueError("a row flagged as scored has no score")
    out = np.where(scores >= threshold, REVIEW, APPROVE).astype(object)
    out[~scored] = unscored
    return out
