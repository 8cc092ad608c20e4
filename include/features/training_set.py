"""Training and serving reads of the spec's feature service.

``historical_features(entity_df)`` — training. ``entity_df`` columns (:func:`entity_columns`,
named by the spec): the event key, every view's join key, the event time (tz-aware; converted
to UTC) and the request fields the request-time features read; other columns (e.g. the
label) are kept. Returns
``entity_df``'s rows in its order with one column per model feature
(:func:`include.features.schema.model_features`) appended.
Guarantees, each raising a named error instead of returning a quietly wrong frame:

* one output row per entity row (A8: Feast's file store silently drops an entity row that
  has no feature row within the TTL before it, collapses rows sharing keys and time, and
  fails on keys it has never seen) → :class:`FeatureRowsDropped`;
* no feature row stamped after its entity row (no future leakage) → :class:`FeatureLeakage`;
* each row is the latest one at or before the entity time (checked against an independent
  pandas ``merge_asof`` on the row stamps) → :class:`FeatureRowsStale`.

By construction every event in a computed partition has a row of each view at or before its
time, so a drop means "features not computed for that period"
(run ``materialize_features`` with ``start_date``/``end_date``), not a cold start. Nulls are
legitimate in means/stds/ratios (no history in the window), never in counts.

``online_features(entity_rows)`` — serving and skew checks: the same service from the online
store, plus the ``*_as_of`` stamps saying which stored row answered.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from include.config import Settings, get_settings
from include.features import schema, store
from include.features.schema import FeatureSpec

_ROW = "__entity_row"
# Entity rows per Feast call. The file store joins each entity row with every feature row of
# its keys before it filters by time, so a call's memory is its rows x the feature rows per
# key (measured: ~21 MB per 1,000 rows at 2 transactions per customer a day over 8 days of
# tables, 2.6 GB for a 100k-row day in one call); pieces keep it flat whatever a day's size
# (bench/scale.py, README "Scale curve").
MAX_CHUNK_ROWS = 25_000
_TS = schema.TIMESTAMP  # Feast's entity timestamp column (the feed's is renamed to it)


def entity_columns(fspec: FeatureSpec) -> tuple[str, ...]:
    """The columns an entity dataframe must have (names from the spec)."""
    return (fspec.tx_key, *fspec.join_keys, fspec.event_ts, *fspec.request_fields)


def _request_columns(fspec: FeatureSpec) -> tuple[str, ...]:
    """The fields a serving request row must have."""
    return (*fspec.join_keys, *fspec.request_fields, fspec.event_ts)


def _typed_key(values: Any, key_type: str) -> Any:
    return values.astype("int64") if key_type == "int" else values.astype(str)


def _key_types(fspec: FeatureSpec) -> dict[str, str]:
    return {v.join_key: v.key_type for v in fspec.views}


class EntityFrameInvalid(ValueError):
    """The entity dataframe lacks a column, has nulls in keys/time or naive timestamps."""


class FeatureRowsDropped(RuntimeError):
    """The point-in-time join did not return exactly one row per entity row (A8)."""


class FeatureRowsStale(RuntimeError):
    """The point-in-time join returned a row that is not the latest one before the entity."""


class FeatureLeakage(RuntimeError):
    """A feature row stamped after its entity row was returned (future leakage)."""


def _checked(entity_df: pd.DataFrame, fspec: FeatureSpec) -> pd.DataFrame:
    """Feast's entity frame: join keys, UTC time under Feast's name, amount, row number."""
    expected = entity_columns(fspec)
    missing = [c for c in expected if c not in entity_df.columns]
    if missing:
        raise EntityFrameInvalid(f"entity_df lacks {missing}; expected {list(expected)}")
    ts = entity_df[fspec.event_ts]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise EntityFrameInvalid(
            f"entity_df.{fspec.event_ts} must be tz-aware (UTC), got {ts.dtype}: naive times "
            "are ambiguous (A8); use pd.to_datetime(..., utc=True)"
        )
    nulls = entity_df[list(expected)].isna().sum()
    if nulls.any():
        raise EntityFrameInvalid(f"entity_df has nulls: {nulls[nulls > 0].to_dict()}")
    columns: dict[str, Any] = {
        key: _typed_key(entity_df[key], kind).to_numpy() for key, kind in _key_types(fspec).items()
    }
    columns[_TS] = ts.dt.tz_convert("UTC").reset_index(drop=True)
    for name, kind in fspec.request_fields.items():
        columns[name] = entity_df[name].astype("int64" if kind == "int" else "float64").to_numpy()
    columns[_ROW] = np.arange(len(entity_df))
    return pd.DataFrame(columns)


def _known_keys(path: Any, view: str, key: str) -> np.ndarray:
    import pyarrow.dataset as ds

    table = ds.dataset(str(path / "features" / view), format="parquet").to_table(columns=[key])
    return np.unique(table.column(key).to_numpy())


def _chunks(
    frame: pd.DataFrame, chunk_days: int, first_key: str, max_rows: int
) -> list[pd.DataFrame]:
    """Time chunks (the pruned view's size), then rounds without a duplicate (first view's
    join key, time), then pieces of at most ``max_rows`` rows of neighbouring first-view
    keys (each piece's pruned view then reads a narrow key range of the tables:
    ``store.read_view``). Feast's file store de-duplicates the entity rows of each view's
    join on the join keys of the views joined so far plus the time, so rows sharing the
    first view's key and time would be silently dropped (A8): e.g. two flights of one
    carrier scheduled at the same minute. Unique on the first key means unique on every
    later key set (and on any piece of a round)."""
    day = frame[_TS].dt.floor("D")
    bucket = ((day - day.min()).dt.days // chunk_days).to_numpy()
    rounds = frame.groupby([first_key, _TS]).cumcount().to_numpy()
    out = []
    for b, r in sorted(set(zip(bucket, rounds, strict=False))):
        part = frame[(bucket == b) & (rounds == r)]
        if len(part) > max_rows:
            part = part.sort_values(first_key, kind="stable")
        out.extend(part.iloc[i : i + max_rows] for i in range(0, len(part), max_rows))
    return out


def historical_features(
    entity_df: pd.DataFrame,
    *,
    settings: Settings | None = None,
    chunk_days: int = 1,
    include_as_of: bool = False,
) -> pd.DataFrame:
    """Point-in-time features of the feature service for every entity row (module docstring)."""
    settings = settings or get_settings()
    fspec = store.feature_spec_from(settings)
    frame = _checked(entity_df, fspec)
    first_key = fspec.views[0].join_key  # the feature service's first view (definitions)
    results = []
    pieces = _chunks(frame, max(1, chunk_days), first_key, MAX_CHUNK_ROWS) if len(frame) else []
    for part in pieces:
        first, last = store.partitions_for_stamps(
            part[_TS].min() - timedelta(days=fspec.ttl_days),
            part[_TS].max(),
            fspec,
        )
        keys = {v.name: part[v.join_key].unique() for v in fspec.views}
        with store.pruned_view(
            settings.features_uri, store.scratch_dir(settings), first, last, keys
        ) as view:
            expected = _expected_as_of(part, view.tables, fspec)
            chunk_store = store.feature_store(settings, repo_path=view.path, retrieval=True)
            service = chunk_store.get_feature_service(fspec.feature_service)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "experimental" ODFV notice
                job = chunk_store.get_historical_features(entity_df=part, features=service)
                result = _stamps_typed(job.to_df(), fspec)
        _check_as_of(result, expected, fspec)
        results.append(result)
    out = pd.concat(results, ignore_index=True) if results else pd.DataFrame(columns=[_ROW])
    _check_one_row_each(frame, out, entity_df, fspec.tx_key)
    _check_no_leakage(out, fspec)
    features = schema.model_features(fspec)
    if include_as_of:
        features += schema.as_of_columns(fspec)
    joined = out.set_index(_ROW)[features].reindex(frame[_ROW].to_numpy())
    result = entity_df.reset_index(drop=True).copy()
    for col in features:
        result[col] = joined[col].to_numpy()
    return result


def _expected_as_of(
    part: pd.DataFrame, tables: dict[str, pd.DataFrame], fspec: FeatureSpec
) -> pd.DataFrame:
    """The stamp of the row each entity row must get (latest at or before it, within the
    TTL), found independently with pandas. A row without one would crash Feast's join (an
    unseen key) or be dropped by it (A8), so it is reported here, before calling Feast."""
    ttl_days = fspec.ttl_days
    out = part[[_ROW, _TS]].copy()
    for v in fspec.views:
        view, key, col = v.name, v.join_key, v.as_of
        key_dtype = "int64" if v.key_type == "int" else object
        empty = pd.DataFrame(
            {
                key: pd.Series(dtype=key_dtype),
                _TS: pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
        stamps = tables.get(view, empty)
        stamps = stamps.assign(**{col: stamps[_TS], key: _typed_key(stamps[key], v.key_type)})
        hit = pd.merge_asof(
            part[[_ROW, key, _TS]].sort_values(_TS),
            stamps.sort_values(_TS),
            on=_TS,
            by=key,
            tolerance=pd.Timedelta(days=ttl_days),
        )
        missing = hit[col].isna()
        if missing.any():
            raise FeatureRowsDropped(
                f"{int(missing.sum())} entity rows have no {view} row at or up to "
                f"{ttl_days} days before their time (e.g. {key} "
                f"{hit.loc[missing, key].head(5).tolist()} at "
                f"{hit.loc[missing, _TS].head(2).astype(str).tolist()}); Feast "
                "would drop them (A8). Compute features for those days (materialize_features "
                "with start_date/end_date)"
            )
        out = out.merge(hit[[_ROW, col]], on=_ROW)
    return out


def _stamps_typed(result: pd.DataFrame, fspec: FeatureSpec) -> pd.DataFrame:
    """The ``*_as_of`` stamps as UTC datetimes: the DuckDB store returns a timestamp
    feature as text (``2026-11-20 23:45:28.867001000Z``)."""
    for col in schema.as_of_columns(fspec):
        if col in result and not isinstance(result[col].dtype, pd.DatetimeTZDtype):
            result[col] = pd.to_datetime(result[col], utc=True, format="ISO8601")
    return result


def _check_as_of(result: pd.DataFrame, expected: pd.DataFrame, fspec: FeatureSpec) -> None:
    """Feast must have picked the latest row at or before each entity row: the Dask join has
    been seen returning an older one when its input had several partitions."""
    as_of = schema.as_of_columns(fspec)
    got = result[[_ROW, *as_of]].merge(expected, on=_ROW, suffixes=("", "_expected"))
    for col in as_of:
        stale = pd.to_datetime(got[col], utc=True) != got[f"{col}_expected"]
        if stale.any():
            raise FeatureRowsStale(
                f"{int(stale.sum())} entity rows got a {col} other than the latest row before "
                f"them, e.g. {got.loc[stale].head(3).to_dict('records')}"
            )


def _check_one_row_each(
    frame: pd.DataFrame, out: pd.DataFrame, entity_df: pd.DataFrame, tx_key: str
) -> None:
    got = out[_ROW].to_numpy() if len(out) else np.array([], dtype="int64")
    missing = np.setdiff1d(frame[_ROW].to_numpy(), got)
    if len(got) != len(frame) or len(missing):
        ids = entity_df[tx_key].iloc[missing[:5]].tolist()
        raise FeatureRowsDropped(
            f"Feast returned {len(got)} rows for {len(frame)} entity rows; {len(missing)} "
            f"dropped, e.g. {tx_key} {ids}. An entity row earlier than every feature row "
            "of one of its entities within the TTL is dropped by the file offline store "
            "(A8): compute features for those days (materialize_features start_date/end_date)"
        )


def _check_no_leakage(out: pd.DataFrame, fspec: FeatureSpec) -> None:
    for col in schema.as_of_columns(fspec):
        stamps = pd.to_datetime(out[col], utc=True)
        late = stamps > out[_TS]
        if late.any():
            raise FeatureLeakage(
                f"{int(late.sum())} rows got a {col} after their entity time, e.g. "
                f"{out.loc[late, [_ROW, _TS, col]].head(3).to_dict('records')}"
            )


def online_features(
    entity_rows: Sequence[Mapping[str, Any]], *, feature_store: Any = None
) -> dict[str, list[Any]]:
    """The feature service from the online store for request rows (the join keys, the request
    fields and the event time, named as in the events feed); unknown entities give None
    values. Pass a long-lived ``feature_store`` in serving (building one
    loads the registry)."""
    fs = feature_store or store.feature_store()
    fspec = store.feature_spec_from()
    rows = []
    for i, row in enumerate(entity_rows):
        missing = [c for c in _request_columns(fspec) if c not in row]
        if missing:
            raise EntityFrameInvalid(f"entity row {i} lacks {missing}")
        ts = pd.Timestamp(row[fspec.event_ts])
        if ts.tzinfo is None:
            raise EntityFrameInvalid(f"entity row {i}: {fspec.event_ts} must be tz-aware")
        entity: dict[str, Any] = {
            v.join_key: int(row[v.join_key]) if v.key_type == "int" else str(row[v.join_key])
            for v in fspec.views
        }
        for name, kind in fspec.request_fields.items():
            entity[name] = int(row[name]) if kind == "int" else float(row[name])
        entity[_TS] = ts.tz_convert("UTC").to_pydatetime()
        rows.append(entity)
    service = fs.get_feature_service(fspec.feature_service)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fs.get_online_features(features=service, entity_rows=rows).to_dict()


def as_timestamp(value: Any) -> pd.Timestamp | None:
    """An ``*_as_of`` value from either read as a UTC timestamp (None stays None)."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
