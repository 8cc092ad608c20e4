"""Data faults the simulator can inject into a landed batch, one function per fault.

Every fault is a pure function ``(frame, feed, rng) -> frame | bytes`` of the clean batch,
the feed's spec and a seeded generator. It picks its target column from the feed spec
generically (the key, a numeric column, a nullable column, the timestamp column), so the
same fault works on the transactions and the labels feed; when a feed has no column the
fault needs (e.g. labels have no nullable column) it raises :class:`ValueError`.
A fault returning ``bytes`` replaces the file content as-is; a frame is written as CSV.

=====================  ====================================================  ===================
fault                  what lands                                            check that catches
=====================  ====================================================  ===================
missing_column         a required non-key column is dropped (numeric first:   column set (A1)
                       ``amount``; labels: ``is_fraud``)
extra_column           an unknown column ``unexpected_column`` is appended    extra-columns
                                                                             policy (A1)
nulls_above_threshold  the first nullable column is null in max(10 %,         not-null ``mostly``
                       5 x max_null_fraction) of rows (cap 50 %)              (A2, quarantine)
nulls_below_threshold  the same column is null in half its max_null_fraction  none: must be
                                                                             ACCEPTED (A2)
wrong_types            ``"abc"`` in the float column, ``"x<value>"`` in the   type check (A3)
                       int column, 5 rows each
out_of_range           float column: negative, 100 x max, NaN, +inf, -inf;    range / not-null /
                       int-only feed: values outside its set or range         finite (A3)
duplicate_keys         ~0.1 % of rows (at least 3) repeated with the same     unique key (A6)
                       key, next to their original
empty_file             a 0-byte file                                          row count >= 1
                                                                             (A4)
header_only            the CSV header and no rows                             row count >= 1
                                                                             (A4)
duplicate_delivery     this day's normal file PLUS the previous day's clean   batch-hash ledger /
                       file, byte-identical, as ``<feed>-<previous day>.csv``  cross-batch unique
                       in this day's folder (done by ``land``)                key (A5)
late_rows              3 % of rows get a timestamp 3-10 days (at least         lateness check
                       allowed lateness + 24 h) before the batch day          (A7)
unit_x10, unit_x100,   the first float column (else int) multiplied by 10 /   history: quantiles
unit_div100            100 / divided by 100 (float only): a unit change       (A10)
truncated_file         the CSV cut in the middle of a line half-way through   complete last line,
                                                                             row count (A11)
volume_drop            the first half of the rows only                        history: row count
                                                                             (A12)
category_shift         35 % of rows of the first column with a declared set   history: category
                       of values get its rarest value                         share (A13, warns)
null_share_jump        the first nullable column null in 90 % of its          history: null share
                       max_null_fraction: within the spec's rule              (A14)
=====================  ====================================================  ===================

The batch-level faults (A10-A14) pass every per-row rule (``unit_x100`` aside, whose largest
values may pass a column's maximum); the feed's history (its profile) catches them, once the
feed has ``history.min_partitions`` published days (fewer: they only warn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from include.spec import ColumnSpec, FeedSpec

FaultResult = pd.DataFrame | bytes
FaultFn = Callable[[pd.DataFrame, FeedSpec, np.random.Generator], FaultResult]

EXTRA_COLUMN = "unexpected_column"
_BAD_ROWS = 5  # "a handful": enough to list in a report, few enough to look accidental


@dataclass(frozen=True)
class Fault:
    """A named fault: how to apply it, what it does, and which check must catch it."""

    name: str
    apply: FaultFn
    description: str
    caught_by: str
    # True: ``land`` also writes the previous day's clean file into this day's folder.
    redelivers_previous_day: bool = False
    # True: no per-row rule sees it; the feed's history (its profile) does (A10-A14).
    batch_level: bool = False


# --- column pickers: generic over feeds, so one fault serves every feed -----------------


def _data_columns(feed: FeedSpec) -> list[ColumnSpec]:
    return [c for c in feed.column_specs if c.name not in (feed.key, feed.timestamp)]


def _numeric(feed: FeedSpec, kind: str) -> ColumnSpec | None:
    return next((c for c in _data_columns(feed) if c.dtype == kind), None)


def _numeric_column(feed: FeedSpec) -> ColumnSpec:
    col = _numeric(feed, "float") or _numeric(feed, "int")
    if col is None:
        raise ValueError(f"feed {feed.name!r} has no numeric non-key column for this fault")
    return col


def _nullable_column(feed: FeedSpec) -> ColumnSpec:
    col = next((c for c in feed.column_specs if c.nullable), None)
    if col is None:
        raise ValueError(
            f"feed {feed.name!r} has no nullable column, so a null-threshold fault does not apply"
        )
    return col


def _require_rows(frame: pd.DataFrame, fault: str, minimum: int = 1) -> None:
    if len(frame) < minimum:
        raise ValueError(f"fault {fault!r} needs at least {minimum} rows, got {len(frame)}")


def _pick_rows(frame: pd.DataFrame, rng: np.random.Generator, k: int) -> np.ndarray:
    return np.sort(rng.choice(len(frame), size=min(k, len(frame)), replace=False))


def _set_nulls(frame: pd.DataFrame, col: str, target: int, rng: np.random.Generator) -> None:
    """Null more cells of ``col`` until ``target`` of them are null (never fewer than now)."""
    if pd.api.types.is_integer_dtype(frame[col].dtype):
        frame[col] = frame[col].astype("Int64")  # plain int64 would turn into float on null
    present = np.flatnonzero(frame[col].notna().to_numpy())
    need = target - (len(frame) - len(present))
    if need > 0:
        idx = rng.choice(present, size=min(need, len(present)), replace=False)
        frame.iloc[idx, frame.columns.get_loc(col)] = None


# --- the faults ---------------------------------------------------------------------


def missing_column(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    required = [c for c in _data_columns(feed) if not c.nullable]
    if not required:
        raise ValueError(f"feed {feed.name!r} has no required non-key column to drop")
    numeric = [c for c in required if c.dtype in ("float", "int")]
    victim = sorted(numeric, key=lambda c: c.dtype != "float")[0] if numeric else required[0]
    return frame.drop(columns=[victim.name])


def extra_column(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    if EXTRA_COLUMN in feed.column_names:
        raise ValueError(f"feed {feed.name!r} declares {EXTRA_COLUMN!r}; it is not extra")
    out = frame.copy()
    out[EXTRA_COLUMN] = rng.integers(0, 1000, size=len(out))
    return out


def nulls_above_threshold(
    frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator
) -> FaultResult:
    col = _nullable_column(feed)
    _require_rows(frame, "nulls_above_threshold")
    fraction = min(0.5, max(0.10, 5 * col.max_null_fraction))
    out = frame.copy()
    _set_nulls(out, col.name, int(np.ceil(fraction * len(out))), rng)
    return out


def nulls_below_threshold(
    frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator
) -> FaultResult:
    col = _nullable_column(feed)
    out = frame.copy()
    # Half the allowed share, counting the nulls already there: clearly inside the limit.
    _set_nulls(out, col.name, int(np.floor(0.5 * col.max_null_fraction * len(out))), rng)
    return out


def wrong_types(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    targets = [c for c in (_numeric(feed, "float"), _numeric(feed, "int")) if c is not None]
    if not targets:
        raise ValueError(f"feed {feed.name!r} has no numeric column to corrupt with text")
    _require_rows(frame, "wrong_types")
    out = frame.copy()
    for col in targets:
        idx = _pick_rows(out, rng, _BAD_ROWS)
        values = out[col.name].astype(object)
        bad = "abc" if col.dtype == "float" else [f"x{v}" for v in values.iloc[idx]]
        values.iloc[idx] = bad
        out[col.name] = values
    return out


def out_of_range(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    col = _numeric_column(feed)
    if col.dtype == "float":
        top = float(col.max) if col.max is not None else 1e6
        bad: list[float] = [-abs(top) / 1000 - 1.0, top * 100, np.nan, np.inf, -np.inf]
    elif col.values:
        bad = [max(col.values) + 1, min(col.values) - 1]
    else:
        low = int(col.min) if col.min is not None else 0
        bad = [low - 1, int(col.max) * 10 + 1 if col.max is not None else 2**62]
    _require_rows(frame, "out_of_range", len(bad))
    out = frame.copy()
    idx = _pick_rows(out, rng, len(bad))
    out.iloc[idx, out.columns.get_loc(col.name)] = bad
    return out


def duplicate_keys(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    _require_rows(frame, "duplicate_keys")
    idx = _pick_rows(frame, rng, max(3, round(0.001 * len(frame))))
    # Each copy sits right after its original, as a double-sent record would.
    order = np.sort(np.concatenate([np.arange(len(frame)), idx]), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def empty_file(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    return b""


def header_only(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    return frame.iloc[:0]


def duplicate_delivery(
    frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator
) -> FaultResult:
    # The batch itself is clean; ``land`` adds the previous day's file next to it.
    return frame


def late_rows(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    _require_rows(frame, "late_rows")
    ts = pd.to_datetime(frame[feed.timestamp], utc=True)
    # The batch day is the day nearly every row falls on (natural late rows are ~0.5 %).
    day_start = ts.median().floor("D")
    n = max(1, round(0.03 * len(frame)))
    idx = _pick_rows(frame, rng, n)
    low_h = max(72.0, feed.allowed_lateness_hours + 24.0)
    high_h = max(240.0, low_h + 24.0)
    ms = rng.integers(int(low_h * 3_600_000), int(high_h * 3_600_000), size=len(idx))
    out = frame.copy()
    late = day_start - pd.to_timedelta(ms, unit="ms")
    values = ts.copy()
    values.iloc[idx] = late
    out[feed.timestamp] = values
    return out


def _scaled(factor: float) -> FaultFn:
    def apply(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
        col = _numeric(feed, "float") or (_numeric(feed, "int") if factor >= 1 else None)
        if col is None or col.values is not None:  # a set of values is not a quantity
            raise ValueError(f"feed {feed.name!r} has no numeric column to scale by {factor:g}")
        out = frame.copy()
        values = pd.to_numeric(out[col.name]) * factor
        out[col.name] = values.round(2) if col.dtype == "float" else values.round().astype("Int64")
        if col.dtype == "float" and factor < 1:  # a smallest unit: 0.004 -> 0.01, not 0
            out[col.name] = out[col.name].clip(lower=0.01)
        return out

    return apply


def truncated_file(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    """The CSV as a writer cut off half-way through leaves it: mid-line, no final newline."""
    from devtools.simulator import to_csv_bytes

    _require_rows(frame, "truncated_file", 2)
    data = to_csv_bytes(frame)
    half = data.index(b"\n", len(data) // 2) + 1
    return data[: half + max(3, (data.index(b"\n", half) - half) // 3)]


def volume_drop(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    _require_rows(frame, "volume_drop", 2)
    return frame.iloc[: len(frame) // 2].reset_index(drop=True)


def category_shift(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    col = next((c for c in _data_columns(feed) if c.values is not None and len(c.values) > 1), None)
    if col is None:
        raise ValueError(f"feed {feed.name!r} has no column with a declared set of values")
    out = frame.copy()
    counts = out[col.name].dropna().astype(str).value_counts()
    rarest = min(col.values, key=lambda v: counts.get(str(v), 0))
    out.iloc[_pick_rows(out, rng, int(0.35 * len(out))), out.columns.get_loc(col.name)] = rarest
    return out


def null_share_jump(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> FaultResult:
    col = _nullable_column(feed)
    out = frame.copy()
    _set_nulls(out, col.name, int(0.9 * col.max_null_fraction * len(out)), rng)
    return out


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("missing_column", missing_column, "drops a required column", "column set (A1)"),
        Fault("extra_column", extra_column, f"adds {EXTRA_COLUMN!r}", "extra-columns policy (A1)"),
        Fault(
            "nulls_above_threshold",
            nulls_above_threshold,
            "nulls >= 10 % of a nullable column",
            "not-null mostly (A2)",
        ),
        Fault(
            "nulls_below_threshold",
            nulls_below_threshold,
            "nulls at half of max_null_fraction",
            "none: the batch must be accepted (A2)",
        ),
        Fault("wrong_types", wrong_types, "text in numeric columns", "type check (A3)"),
        Fault("out_of_range", out_of_range, "negative/huge/NaN/inf values", "range check (A3)"),
        Fault("duplicate_keys", duplicate_keys, "repeats rows with the same key", "unique (A6)"),
        Fault("empty_file", empty_file, "0-byte file", "row count (A4)"),
        Fault("header_only", header_only, "header, no rows", "row count (A4)"),
        Fault(
            "duplicate_delivery",
            duplicate_delivery,
            "previous day's file lands again in this day's folder",
            "batch-hash ledger / cross-batch unique key (A5)",
            redelivers_previous_day=True,
        ),
        Fault("late_rows", late_rows, "3 % of rows 3-10 days late", "lateness check (A7)"),
        Fault(
            "unit_x10",
            _scaled(10),
            "a numeric column x10",
            "history: quantiles (A10)",
            batch_level=True,
        ),
        Fault(
            "unit_x100",
            _scaled(100),
            "a numeric column x100",
            "history: quantiles (A10)",
            batch_level=True,
        ),
        Fault(
            "unit_div100",
            _scaled(0.01),
            "a float column ÷100",
            "history: quantiles (A10)",
            batch_level=True,
        ),
        Fault(
            "truncated_file",
            truncated_file,
            "the file cut mid-line half-way",
            "complete last line, row count (A11)",
            batch_level=True,
        ),
        Fault(
            "volume_drop",
            volume_drop,
            "half the rows",
            "history: row count (A12)",
            batch_level=True,
        ),
        Fault(
            "category_shift",
            category_shift,
            "35 % of a categorical column set to its rarest value",
            "history: category share (A13, warns)",
            batch_level=True,
        ),
        Fault(
            "null_share_jump",
            null_share_jump,
            "nulls at 90 % of a column's max_null_fraction",
            "history: null share (A14)",
            batch_level=True,
        ),
    )
}


def apply_fault(
    name: str, frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator
) -> FaultResult:
    """Apply the fault ``name``; unknown names raise ``ValueError`` listing the known ones."""
    try:
        fault = FAULTS[name]
    except KeyError:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}") from None
    return fault.apply(frame, feed, rng)
