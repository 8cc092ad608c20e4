"""Expectation suites generated from a feed's spec: quality rules live in the spec.

Two stages, because a type error must be seen on the raw text, before coercion hides it:

* ``<feed>_raw`` on the text as delivered: schema (columns), row count, and that every
  typed or patterned column *looks* like its type (regex). A failure here stops the
  validation: content checks on a broken structure would only add noise.
* ``<feed>`` on the typed frame: completeness (null share per column), uniqueness of the
  key, validity (ranges, allowed values) and freshness of the event time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from include.spec import ColumnSpec, FeedSpec

# Patterns of the raw text per declared type; a null (empty) cell is judged by completeness.
TYPE_PATTERNS: dict[str, str] = {
    "int": r"^-?[0-9]+$",
    # inf/nan are floats: the range and completeness checks judge them, with clearer words.
    "float": r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    r"|(?i:inf|infinity|nan))$",
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?$",
}


def interval_bounds(feed: FeedSpec, day: date) -> tuple[datetime, datetime, datetime]:
    """(earliest accepted event time, start of day, end of day), all UTC."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    return start - timedelta(hours=feed.allowed_lateness_hours), start, end


def raw_expectations(feed: FeedSpec) -> list[Any]:
    import great_expectations.expectations as gxe

    exps: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=feed.column_names, exact_match=feed.extra_columns == "reject"
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=feed.min_rows, max_value=feed.max_rows),
    ]
    for col in feed.column_specs:
        pattern = col.regex or TYPE_PATTERNS.get(col.dtype)
        if pattern:
            exps.append(gxe.ExpectColumnValuesToMatchRegex(column=col.name, regex=pattern))
    return exps


def _completeness(col: ColumnSpec) -> Any:
    import great_expectations.expectations as gxe

    if not col.nullable or col.max_null_fraction <= 0:
        return gxe.ExpectColumnValuesToNotBeNull(column=col.name)
    return gxe.ExpectColumnValuesToNotBeNull(column=col.name, mostly=1 - col.max_null_fraction)


def content_expectations(feed: FeedSpec, day: date) -> list[Any]:
    import great_expectations.expectations as gxe
    import pandas as pd

    exps: list[Any] = [gxe.ExpectColumnValuesToBeUnique(column=feed.key)]
    for col in feed.column_specs:
        exps.append(_completeness(col))
        if col.min is not None or col.max is not None:
            exps.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name, min_value=col.min, max_value=col.max
                )
            )
        if col.values is not None:
            exps.append(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.values))
            )
    earliest, start, end = interval_bounds(feed, day)
    ts = feed.timestamp
    # Late rows are fine within the allowed lateness; anything older, or from the future,
    # means a wrong or replayed delivery.
    exps.append(
        gxe.ExpectColumnValuesToBeBetween(
            column=ts,
            min_value=pd.Timestamp(earliest),
            max_value=pd.Timestamp(end),
            strict_max=True,
        )
    )
    # Freshness: the newest row belongs to the batch's own day.
    exps.append(
        gxe.ExpectColumnMaxToBeBetween(
            column=ts, min_value=pd.Timestamp(start), max_value=pd.Timestamp(end), strict_max=True
        )
    )
    return exps
