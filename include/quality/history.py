"""History checks: GX expectations whose bounds come from the feed's profile, and their causes.

A per-row rule cannot see a change of the whole batch: amounts all multiplied by ten, half
the usual rows, a channel whose share jumped. :func:`expectations` turns the profile of the
feed's last published partitions (``include.quality.profile``) into expectations of the
same GX suites as the spec's rules (the row count band on the raw text, the rest on the typed
frame), each carrying in its ``meta`` which check it is, its action and the normal it was
built from. :func:`causes` then says what changed, in words and numbers a person acts on:

    amount: median 1,233.00 against 12.40 over the last 14 published days (x99.4): a unit
    change?

Bounds are the range the history spans, widened by the check's tolerance (``HistorySpec``);
with fewer than ``history.min_partitions`` partitions every check only warns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from statistics import median
from typing import Any

from include.quality import profile
from include.quality.profile import QUANTILES, arrival_hours, roles
from include.spec import FeedSpec, UseCaseSpec

# A category is expected to be present only when the batch should hold at least this many
# of it (a value of 1 % share is missing from 100 rows 37 % of the time, from 1,000 never).
MIN_EXPECTED_ROWS = 10
# Binomial standard errors a category share may move by chance in a batch of n rows.
SHARE_NOISE_SIGMAS = 4.0
# A median that moved by this factor or more (either way) reads as a unit change.
UNIT_CHANGE_RATIO = 5.0
_Q_NAMES = {0.1: "10th percentile", 0.5: "median", 0.9: "90th percentile"}


@dataclass(frozen=True)
class History:
    """The partitions a batch is compared with, and what a failed check does."""

    feed: FeedSpec
    stats: list[dict[str, Any]]
    identifiers: tuple[str, ...] = ()
    profile_version: int | None = None
    # A person accepted this very batch as the new normal: every check only warns.
    accepted: bool = False

    @property
    def count(self) -> int:
        return len(self.stats)

    @property
    def young(self) -> bool:
        """Fewer partitions than ``history.min_partitions``: every check only warns."""
        return self.count < self.feed.history.min_partitions

    def action(self, check: str) -> str:
        if self.young or self.accepted:
            return "warn"
        return getattr(self.feed.history, check).action

    def tolerance(self, check: str) -> float:
        return float(getattr(self.feed.history, check).tolerance)

    def meta(self, check: str, column: str | None = None, **normal: Any) -> dict[str, Any]:
        return {
            "history": {
                "check": check,
                "action": self.action(check),
                "column": column,
                "partitions": self.count,
                "profile_version": self.profile_version,
                **normal,
            }
        }

    def series(self, section: str, column: str, key: str | None = None) -> list[float]:
        out = []
        for s in self.stats:
            found = s.get(section, {}).get(column)
            if found is None:
                continue
            value = (
                found if key is None else found.get(key, 0.0 if section == "categories" else None)
            )
            if value is not None:
                out.append(float(value))
        return out


@functools.cache
def _quantile_expectation() -> type:
    """GX 1.24's quantile expectation returns numpy booleans, which its result store cannot
    write as JSON (``TypeError: Object of type bool``); this one returns Python's."""
    import great_expectations.expectations as gxe

    class ExpectColumnQuantileValuesToBeBetweenItsHistory(
        gxe.ExpectColumnQuantileValuesToBeBetween
    ):
        def _validate(
            self, metrics: dict, runtime_configuration: Any = None, execution_engine: Any = None
        ) -> dict:
            out = super()._validate(metrics, runtime_configuration, execution_engine)
            out["success"] = bool(out["success"])
            details = out["result"]["details"]
            details["success_details"] = [bool(x) for x in details["success_details"]]
            return out

    return ExpectColumnQuantileValuesToBeBetweenItsHistory


def load_history(spec: UseCaseSpec, feed: str, day: date, lake_uri: str) -> History:
    """What a batch of ``feed`` for ``day`` is compared with: the feed's newest profile."""
    found = profile.latest(lake_uri, feed)
    return History(
        spec.feed(feed),
        found.history_for(day) if found else [],
        profile.identifiers(spec, feed),
        found.version if found else None,
    )


def _noise(share: float, n: int) -> float:
    """How far a share may move by chance in a batch of ``n`` rows."""
    return SHARE_NOISE_SIGMAS * math.sqrt(max(share * (1 - share), 1e-12) / max(n, 1))


def _band(values: list[float], tolerance: float) -> tuple[int, int]:
    return math.floor(min(values) * (1 - tolerance)), math.ceil(max(values) * (1 + tolerance))


def raw_expectations(history: History) -> list[Any]:
    """On the raw text: the row count within the history's band."""
    import great_expectations.expectations as gxe

    rows = [float(s["rows"]) for s in history.stats]
    if not rows:
        return []
    lo, hi = _band(rows, history.tolerance("row_count"))
    return [
        gxe.ExpectTableRowCountToBeBetween(
            min_value=max(lo, 0),
            max_value=hi,
            meta=history.meta("row_count", low=min(rows), high=max(rows)),
        )
    ]


def _typed(feed: FeedSpec, column: str, key: str) -> Any:
    """A category key of the profile (text) as the typed frame holds it."""
    col = feed.column(column)
    if col.values is not None:
        return next((v for v in col.values if str(v) == key), key)
    if col.dtype == "int":
        return int(float(key))
    if col.dtype == "float":
        return float(key)
    return key


def _quantile_bounds(history: History, column: str) -> dict[str, Any] | None:
    tol = history.tolerance("quantiles")
    per_q = {q: history.series("quantiles", column, str(q)) for q in QUANTILES}
    if any(not v for v in per_q.values()):
        return None
    positive = all(x > 0 for v in per_q.values() for x in v)
    iqrs = history.series("quantiles", column, "iqr")
    spread = median(iqrs) if iqrs else 0.0
    ranges = []
    for v in per_q.values():
        if positive:
            ranges.append([min(v) / (1 + tol), max(v) * (1 + tol)])
        else:
            width = spread or (max(v) - min(v)) or max(abs(median(v)), 1e-9)
            ranges.append([min(v) - tol * width, max(v) + tol * width])
    return {
        "ranges": ranges,
        "low": {str(q): min(v) for q, v in per_q.items()},
        "high": {str(q): max(v) for q, v in per_q.items()},
        "center": {str(q): median(v) for q, v in per_q.items()},
        "positive": positive,
    }


def content_expectations(history: History, batch_rows: int) -> list[Any]:
    """On the typed frame: quantiles, category shares, new and vanished values, null shares
    and distinct keys, each within the history's range widened by its tolerance."""
    import great_expectations.expectations as gxe

    if not history.stats:
        return []
    feed = history.feed
    r = roles(feed, history.identifiers)
    exps: list[Any] = []
    for col in r.numeric:
        b = _quantile_bounds(history, col)
        if b is None:
            continue
        exps.append(
            _quantile_expectation()(
                column=col,
                quantile_ranges={"quantiles": list(QUANTILES), "value_ranges": b["ranges"]},
                meta=history.meta("quantiles", col, **b),
            )
        )
    n = max(batch_rows, 1)
    for col in (*r.declared, *r.text):
        seen = [s["categories"][col] for s in history.stats if col in s.get("categories", {})]
        if len(seen) < history.count:  # too many values in some partition: not a category
            continue
        exps += _category_expectations(history, col, seen, n)
    for col in r.nullable:
        shares = history.series("nulls", col)
        if not shares:
            continue
        bound = max(shares) + max(history.tolerance("null_share"), _noise(max(shares), n))
        if bound < feed.column(col).max_null_fraction:  # tighter than the spec's own rule
            exps.append(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=col,
                    mostly=1 - bound,
                    meta=history.meta("null_share", col, high=max(shares)),
                )
            )
    for col in r.identifiers:
        counts = history.series("distinct", col)
        if counts:
            lo, hi = _band(counts, history.tolerance("distinct_keys"))
            exps.append(
                gxe.ExpectColumnUniqueValueCountToBeBetween(
                    column=col,
                    min_value=max(lo, 0),
                    max_value=hi,
                    meta=history.meta("distinct_keys", col, low=min(counts), high=max(counts)),
                )
            )
    return exps


def _category_expectations(
    history: History, col: str, seen: list[dict[str, float]], n: int
) -> list[Any]:
    import great_expectations.expectations as gxe

    feed = history.feed
    values = sorted({k for shares in seen for k in shares})
    exps: list[Any] = []
    tol = history.tolerance("category_share")
    for value in values:
        shares = [s.get(value, 0.0) for s in seen]
        p = median(shares)
        margin = max(tol, _noise(p, n))
        lo, hi = max(min(shares) - margin, 0.0), min(max(shares) + margin, 1.0)
        meta = history.meta(
            "category_share", col, value=value, center=p, low=min(shares), high=max(shares)
        )
        typed = [_typed(feed, col, value)]
        if lo > 0:
            exps.append(
                gxe.ExpectColumnValuesToBeInSet(column=col, value_set=typed, mostly=lo, meta=meta)
            )
        if hi < 1:
            exps.append(
                gxe.ExpectColumnValuesToNotBeInSet(
                    column=col, value_set=typed, mostly=1 - hi, meta=meta
                )
            )
    if feed.column(col).values is None:  # a declared set is the spec's own per-row rule
        exps.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=col,
                value_set=[_typed(feed, col, v) for v in values],
                mostly=1 - history.tolerance("new_categories"),
                meta=history.meta("new_categories", col),
            )
        )
    always = [v for v in values if min(s.get(v, 0.0) for s in seen) * n >= MIN_EXPECTED_ROWS]
    if always:
        exps.append(
            gxe.ExpectColumnDistinctValuesToContainSet(
                column=col,
                value_set=[_typed(feed, col, v) for v in always],
                meta=history.meta(
                    "vanished_categories",
                    col,
                    shares={v: median(s.get(v, 0.0) for s in seen) for v in always},
                ),
            )
        )
    return exps


def arrival_check(history: History, day: Any, arrived: Any) -> dict[str, Any] | None:
    """Whether the batch arrived later than the history's latest arrival plus the tolerance
    (None when either side does not know when it arrived)."""
    hours = arrival_hours(day, arrived)
    known = [s["arrival_hours"] for s in history.stats if s.get("arrival_hours") is not None]
    if hours is None or not known or len(known) < history.count:
        return None
    limit = max(known) + history.tolerance("arrival_hours")
    return {
        "success": hours <= limit,
        "observed": {"arrival_hours": hours, "limit_hours": round(limit, 3)},
        "meta": history.meta("arrival_hours", None, high=max(known)),
    }


# ---------------------------------------------------------------------------------- causes
def num(value: float) -> str:
    """1,233.00 / 12.40 / 0.0124: two decimals, more for small numbers."""
    if abs(value) >= 1 or value == 0:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def pct(share: float) -> str:
    x = 100 * share
    return f"{x:.0f} %" if x >= 10 or x == 0 else f"{x:.1f} %" if x >= 1 else f"{x:.2f} %"


def _ratio(now: float, before: float) -> str:
    r = now / before
    return f"x{r:.3g}" if r >= 1 else f"÷{1 / r:.3g}"


def _days(h: dict[str, Any]) -> str:
    k = h.get("partitions", 0)
    return f"over the last {k} published day{'s' if k != 1 else ''}"


def cause(check: Any) -> str | None:
    """What a failed history check says happened (``check`` a ``CheckResult``)."""
    h = (check.history or {}) if hasattr(check, "history") else {}
    kind, col, obs, over = h.get("check"), h.get("column"), check.observed, _days(h)
    if kind == "row_count" and isinstance(obs, (int, float)):
        lo, hi = int(h["low"]), int(h["high"])
        why = "a partial delivery?" if obs < lo else "a repeated or merged delivery?"
        return f"{int(obs):,} rows against {lo:,}–{hi:,} {over}: {why}"
    if kind == "quantiles" and isinstance(obs, dict):
        return _quantile_cause(col, obs, h, over)
    if kind == "category_share":
        share = _share_of_value(check)
        if share is None:
            return None
        return f"{col} '{h['value']}' share {pct(share)} against {pct(h['center'])} {over}"
    if kind == "new_categories":
        sample = ", ".join(f"'{v}'" for v in list(dict.fromkeys(check.sample_values or []))[:5])
        share = (check.unexpected_percent or 0.0) / 100
        return f"{col}: {pct(share)} of rows hold values never seen {over} ({sample})"
    if kind == "vanished_categories":
        missing = {str(v) for v in check.sample_values or []}
        gone = [v for v in h.get("shares", {}) if v in missing]
        return (
            "; ".join(
                f"{col}: no '{v}' in the batch, against {pct(h['shares'][v])} of rows {over}"
                for v in gone
            )
            or None
        )
    if kind == "null_share":
        share = (check.unexpected_percent or 0.0) / 100
        return f"{col}: {pct(share)} empty against at most {pct(h['high'])} {over}"
    if kind == "distinct_keys" and isinstance(obs, (int, float)):
        lo, hi = int(h["low"]), int(h["high"])
        return f"{col}: {int(obs):,} distinct values against {lo:,}–{hi:,} {over}"
    if kind == "arrival_hours" and isinstance(obs, dict):
        return (
            f"landed {obs['arrival_hours']:.1f} h after its day ended, against at most "
            f"{h['high']:.1f} h {over}: late"
        )
    return None


def _share_of_value(check: Any) -> float | None:
    pct_unexpected = check.unexpected_percent
    if pct_unexpected is None:
        return None
    if (check.history or {}).get("gx") == "expect_column_values_to_not_be_in_set":
        return pct_unexpected / 100  # the rows holding the value are the unexpected ones
    return 1 - pct_unexpected / 100


def _quantile_cause(col: str, obs: dict[str, Any], h: dict[str, Any], over: str) -> str | None:
    found = dict(zip(obs.get("quantiles", []), obs.get("values", []), strict=False))
    bounds = dict(zip(QUANTILES, h.get("ranges", []), strict=False))
    center, low, high = h.get("center", {}), h.get("low", {}), h.get("high", {})

    def outside(q: float, value: float) -> bool:
        lo, hi = bounds.get(q, (-math.inf, math.inf))
        return not lo <= value <= hi

    now, before = found.get(0.5), center.get("0.5")
    if now is not None and before is not None and outside(0.5, now):
        text = f"{col}: median {num(now)} against {num(before)} {over}"
        if h.get("positive") and now > 0:
            r = now / before
            text += f" ({_ratio(now, before)})"
            if r >= UNIT_CHANGE_RATIO or r <= 1 / UNIT_CHANGE_RATIO:
                text += ": a unit change?"
        return text
    for q, value in found.items():
        key = str(q)
        if key in low and outside(q, value):
            return (
                f"{col}: {_Q_NAMES.get(q, f'{q:g} quantile')} {num(value)} against "
                f"{num(low[key])}–{num(high[key])} {over}"
            )
    return None


def causes(checks: Iterable[Any], truncated: list[str]) -> list[str]:
    """The named causes of a validation, most telling first: a truncated file (joined to a
    low row count), then every failed history check."""
    out: list[str] = []
    said_cut = False
    for c in checks:
        if c.success:
            continue
        text = cause(c)
        if text is None:
            continue
        if (c.history or {}).get("check") == "row_count" and truncated:
            text = text.rsplit(":", 1)[0] + f", and {truncated[0]}: truncated?"
            said_cut = True
        out.append(text)
    if truncated and not said_cut:
        out.insert(0, f"{truncated[0]}: truncated?")
    return out
