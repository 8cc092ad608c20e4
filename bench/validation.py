"""GX validation against its pandas floor, on a simulated batch of the events feed.

The batch comes from the project's own path: :mod:`devtools.simulator` simulates a day,
``to_csv_bytes`` writes it into a scratch landing zone, :func:`include.data.batches.read_batch`
reads it back as raw text and :func:`include.data.batches.coerce` types it. On that batch:

* **pandas floor**: the checks of :mod:`include.quality.suites` written in plain pandas
  (:func:`pandas_structure_checks`, :func:`pandas_content_checks`), derived from the feed spec
  exactly as the suites are, returning the project's :class:`CheckResult` rows.
* **GX checks only**: the same expectation lists (``raw_expectations`` on the raw frame,
  ``content_expectations`` on the typed frame) through an ephemeral GX context and
  ``batch.validate(suite, result_format=<the project's>)``: no file stores, no Data Docs.
* **validate_batch**: the project's real entry point with a scratch ``gx_root`` (and, as
  ingest, a pseudonymiser for the feed's pii columns); Data-Docs
  building (the checkpoint's ``UpdateDataDocsAction`` and ``_build_evidence_docs``) and
  ``coerce`` are timed separately by wrapping them, so "excl. docs" is total minus those.

Sanity: GX and pandas must fail the same checks, with the same unexpected counts, on the
clean batch and on a batch with planted faults (:func:`plant_faults`); the smoke test
``tests/unit/bench/test_bench_smoke.py`` checks the same on tiny batches, fault by fault.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import Figure, fmt, median, quiet_logs
from devtools import simulator
from devtools.faults import FAULTS
from include.data.batches import RawBatch, coerce, list_batch_files, read_batch
from include.privacy.pseudonym import Pseudonymiser
from include.quality import suites
from include.quality.validate import SAMPLE_SIZE, CheckResult
from include.spec import FeedSpec, UseCaseSpec

RATIO_TARGET = 8.0
BENCH_PII_KEY = b"bench-only-pseudonym-key-0123456"
BATCH_DAY = dt.date(2026, 3, 1)
# Catalogue faults composed into one batch so both suites see several failures at once.
PLANTED = (
    "out_of_range",
    "wrong_types",
    "nulls_above_threshold",
    "late_rows",
    "duplicate_keys",
    "extra_column",
)


# ---------------------------------------------------------------- batches
def write_batch(
    frame_or_bytes: pd.DataFrame | bytes, feed: FeedSpec, landing: Path, day: dt.date
) -> RawBatch:
    """Write one CSV file of ``feed`` where ``land`` would, then read it back through
    ``read_batch``."""
    data = (
        frame_or_bytes
        if isinstance(frame_or_bytes, bytes)
        else simulator.to_csv_bytes(frame_or_bytes)
    )
    folder = landing / feed.name / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / simulator.batch_file_name(feed.name, day)).write_bytes(data)
    return read_batch(feed.name, day, list_batch_files(str(landing), feed.name, day))


def plant_faults(frame: pd.DataFrame, feed: FeedSpec, rng: np.random.Generator) -> pd.DataFrame:
    """The :data:`PLANTED` catalogue faults plus a value outside its allowed set and an int
    below its minimum: every check kind of both suites has something to find."""
    out = frame
    for name in PLANTED:
        result = FAULTS[name].apply(out, feed, rng)
        if not isinstance(result, pd.DataFrame):
            raise TypeError(f"fault {name!r} returns file bytes; it cannot be composed")
        out = result
    out = out.copy()
    in_set = next(c for c in feed.column_specs if c.values and c.dtype == "string")
    int_min = next(c for c in feed.column_specs if c.dtype == "int" and c.min is not None)
    rows = rng.choice(len(out), size=min(6, len(out)), replace=False)
    out[in_set.name] = out[in_set.name].astype(object)
    out.iloc[rows[:3], out.columns.get_loc(in_set.name)] = "__not_in_set__"
    out[int_min.name] = out[int_min.name].astype(object)
    out.iloc[rows[3:], out.columns.get_loc(int_min.name)] = int(int_min.min) - 1
    return out


# ---------------------------------------------------------------- pandas floor
def _check(
    stage: str,
    kind: str,
    column: str | None,
    success: bool,
    unexpected: int | None = None,
    observed: Any = None,
) -> CheckResult:
    return CheckResult(
        name=f"{kind}({column})" if column else kind,
        stage=stage,
        success=bool(success),
        column=column,
        unexpected_count=unexpected,
        observed=observed,
    )


def _map_check(
    stage: str, kind: str, column: str, values: pd.Series, ok: Callable[[pd.Series], pd.Series]
) -> CheckResult:
    """A GX column-map check: nulls are skipped, every non-null value must pass ``ok``."""
    present = values.dropna()
    unexpected = int((~ok(present)).sum()) if len(present) else 0
    return _check(stage, kind, column, unexpected == 0, unexpected)


def _between(lo: Any, hi: Any, *, strict_max: bool = False) -> Callable[[pd.Series], pd.Series]:
    def ok(v: pd.Series) -> pd.Series:
        mask = pd.Series(True, index=v.index)
        if lo is not None:
            mask &= v >= lo
        if hi is not None:
            mask &= (v < hi) if strict_max else (v <= hi)
        return mask.astype(bool)

    return ok


def pandas_structure_checks(raw: pd.DataFrame, feed: FeedSpec) -> list[CheckResult]:
    """``suites.raw_expectations`` in pandas: column set, row count, type/pattern regexes
    (only for columns present, as ``validate_batch`` filters them)."""
    stage = "structure"
    cols, expected = set(raw.columns), set(feed.column_names)
    exact = feed.extra_columns == "reject"
    n = len(raw)
    checks = [
        _check(
            stage,
            "expect_table_columns_to_match_set",
            None,
            cols == expected if exact else expected <= cols,
            observed=sorted(map(str, cols)),
        ),
        _check(
            stage,
            "expect_table_row_count_to_be_between",
            None,
            feed.min_rows <= n <= feed.max_rows,
            observed=n,
        ),
    ]
    for col in feed.column_specs:
        pattern = col.regex or suites.TYPE_PATTERNS.get(col.dtype)
        if not pattern or col.name not in cols:
            continue
        text = raw[col.name]
        if not pd.api.types.is_string_dtype(text):
            text = text.astype(str).where(raw[col.name].notna(), None)
        # na=True: a null cell is judged by completeness, not by the pattern.
        unexpected = int((~text.str.fullmatch(pattern, na=True)).sum())
        kind = "expect_column_values_to_match_regex"
        checks.append(_check(stage, kind, col.name, unexpected == 0, unexpected))
    return checks


def pandas_content_checks(typed: pd.DataFrame, feed: FeedSpec, day: dt.date) -> list[CheckResult]:
    """``suites.content_expectations`` in pandas: unique key, completeness, ranges, allowed
    values, event-time window and freshness. A missing column fails its checks (GX raises)."""
    stage = "content"
    total = len(typed)

    def missing(kind: str, column: str) -> CheckResult | None:
        return None if column in typed.columns else _check(stage, kind, column, False)

    checks: list[CheckResult] = []
    kind = "expect_column_values_to_be_unique"
    checks.append(
        missing(kind, feed.key)
        or _map_check(stage, kind, feed.key, typed[feed.key], lambda v: ~v.duplicated(keep=False))
    )
    for col in feed.column_specs:
        kind = "expect_column_values_to_not_be_null"
        if (absent := missing(kind, col.name)) is not None:
            checks.append(absent)
        else:
            nulls = int(typed[col.name].isna().sum())
            mostly = 1.0
            if col.nullable and col.max_null_fraction > 0:
                mostly = 1 - col.max_null_fraction
            ok = total == 0 or (total - nulls) / total >= mostly
            checks.append(_check(stage, kind, col.name, ok, nulls))
        if col.min is not None or col.max is not None:
            kind = "expect_column_values_to_be_between"
            checks.append(
                missing(kind, col.name)
                or _map_check(stage, kind, col.name, typed[col.name], _between(col.min, col.max))
            )
        if col.values is not None:
            kind = "expect_column_values_to_be_in_set"
            allowed = list(col.values)
            checks.append(
                missing(kind, col.name)
                or _map_check(
                    stage, kind, col.name, typed[col.name], lambda v, a=allowed: v.isin(a)
                )
            )
    earliest, start, end = suites.interval_bounds(feed, day)
    ts = feed.timestamp
    kind = "expect_column_values_to_be_between"
    window = _between(pd.Timestamp(earliest), pd.Timestamp(end), strict_max=True)
    checks.append(missing(kind, ts) or _map_check(stage, kind, ts, typed[ts], window))
    kind = "expect_column_max_to_be_between"
    if (absent := missing(kind, ts)) is not None:
        checks.append(absent)
    else:
        newest = typed[ts].max()
        fresh = not pd.isna(newest) and pd.Timestamp(start) <= newest < pd.Timestamp(end)
        checks.append(_check(stage, kind, ts, fresh, observed=str(newest)))
    return checks


def pandas_checks(
    raw: pd.DataFrame, typed: pd.DataFrame, feed: FeedSpec, day: dt.date
) -> tuple[list[CheckResult], dict[str, float]]:
    """Both stages in pandas, with seconds per stage."""
    t0 = time.perf_counter()
    structure = pandas_structure_checks(raw, feed)
    t1 = time.perf_counter()
    content = pandas_content_checks(typed, feed, day)
    t2 = time.perf_counter()
    return structure + content, {"structure": t1 - t0, "content": t2 - t1}


# ---------------------------------------------------------------- GX, checks only
def project_result_format(frame: pd.DataFrame, key: str) -> dict[str, Any]:
    """The result format ``include.quality.validate`` asks its checkpoints for."""
    fmt: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    if key in frame.columns:
        fmt["unexpected_index_column_names"] = [key]
    return fmt


class GxChecks:
    """The project's suites run through GX directly: ephemeral context, no checkpoint,
    no stores, no Data Docs. One instance per process (GX context creation is slow)."""

    def __init__(self) -> None:
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        quiet_logs()
        self._gx = gx
        self._ctx = gx.get_context(mode="ephemeral")
        self._ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self._ctx.data_sources.add_pandas(name="bench")
        self._runs = 0

    def validate(
        self, stage: str, frame: pd.DataFrame, expectations: list[Any], key: str
    ) -> tuple[list[CheckResult], float, float]:
        """(checks, seconds of ``batch.validate``, seconds of ``get_batch``) for one suite.

        ``batch.validate`` builds a validator that loads the batch again, so only it is timed
        as "checks"; the separate ``get_batch`` (GX md5-hashes the whole frame on every batch
        load) is reported on its own. The project's checkpoint path loads the batch once.
        """
        self._runs += 1
        name = f"{stage}_{self._runs}"
        asset = self._source.add_dataframe_asset(name=name)
        batch_def = asset.add_batch_definition_whole_dataframe("whole_batch")
        suite = self._gx.ExpectationSuite(name=name, expectations=expectations)
        result_format = project_result_format(frame, key)
        start = time.perf_counter()
        batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
        loaded = time.perf_counter()
        result = batch.validate(suite, result_format=result_format)
        done = time.perf_counter()
        return gx_to_checks(result, stage), done - loaded, loaded - start

    def run(
        self, raw: pd.DataFrame, typed: pd.DataFrame, feed: FeedSpec, day: dt.date
    ) -> tuple[list[CheckResult], dict[str, float]]:
        """Both suites (raw expectations filtered to present columns, as validate_batch does)."""
        raw_exps = [
            e
            for e in suites.raw_expectations(feed)
            if getattr(e, "column", None) is None or e.column in raw.columns
        ]
        structure, t_structure, load_raw = self.validate("structure", raw, raw_exps, feed.key)
        content_exps = suites.content_expectations(feed, day)
        content, t_content, load_typed = self.validate("content", typed, content_exps, feed.key)
        times = {"structure": t_structure, "content": t_content, "get_batch": load_raw + load_typed}
        return structure + content, times


def gx_to_checks(vresult: Any, stage: str) -> list[CheckResult]:
    """GX results as the project's check rows (name, success, unexpected count)."""
    checks = []
    for r in vresult.results:
        cfg = r.expectation_config
        column = cfg.kwargs.get("column")
        res = r.result or {}
        checks.append(_check(stage, cfg.type, column, bool(r.success), res.get("unexpected_count")))
    return checks


# ---------------------------------------------------------------- agreement
@dataclass
class Agreement:
    """Whether GX and the pandas floor reached the same verdicts on one batch."""

    label: str
    gx_failing: list[str]
    pandas_failing: list[str]
    only_gx: list[str] = field(default_factory=list)
    only_pandas: list[str] = field(default_factory=list)
    count_mismatches: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return (
            self.gx_failing == self.pandas_failing
            and not self.only_gx
            and not self.only_pandas
            and not self.count_mismatches
        )

    def line(self) -> str:
        verdict = "AGREE" if self.agree else "DISAGREE"
        failing = textwrap.fill(
            ", ".join(self.gx_failing) or "-",
            width=96,
            initial_indent="    ",
            subsequent_indent="    ",
        )
        text = (
            f"sanity [{self.label}]: GX and pandas {verdict}; "
            f"{len(self.gx_failing)} failing check(s):\n{failing}"
        )
        if not self.agree:
            text += (
                f"\n    pandas failing: {', '.join(self.pandas_failing) or '-'}"
                f"\n    only in GX: {self.only_gx}  only in pandas: {self.only_pandas}"
                f"\n    unexpected-count mismatches: {self.count_mismatches}"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "agree": self.agree,
            "gx_failing": self.gx_failing,
            "pandas_failing": self.pandas_failing,
            "only_gx": self.only_gx,
            "only_pandas": self.only_pandas,
            "count_mismatches": self.count_mismatches,
        }


def compare(label: str, gx: list[CheckResult], pandas: list[CheckResult]) -> Agreement:
    """Same check names, same failing set, same unexpected counts where both report one."""
    by_gx = {f"{c.stage}:{c.name}": c for c in gx}
    by_pd = {f"{c.stage}:{c.name}": c for c in pandas}
    mismatches = [
        f"{k}: gx={by_gx[k].unexpected_count} pandas={by_pd[k].unexpected_count}"
        for k in by_gx.keys() & by_pd.keys()
        if by_gx[k].unexpected_count is not None
        and by_pd[k].unexpected_count is not None
        and by_gx[k].unexpected_count != by_pd[k].unexpected_count
    ]
    return Agreement(
        label=label,
        gx_failing=sorted(k for k, c in by_gx.items() if not c.success),
        pandas_failing=sorted(k for k, c in by_pd.items() if not c.success),
        only_gx=sorted(by_gx.keys() - by_pd.keys()),
        only_pandas=sorted(by_pd.keys() - by_gx.keys()),
        count_mismatches=sorted(mismatches),
    )


# ---------------------------------------------------------------- validate_batch, instrumented
@contextmanager
def _timed(owner: Any, attr: str, totals: dict[str, float], key: str) -> Iterator[None]:
    """Wrap ``owner.attr`` so its run time adds to ``totals[key]``; restored on exit."""
    original = owner.__dict__[attr]

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - start

    setattr(owner, attr, wrapper)
    try:
        yield
    finally:
        setattr(owner, attr, original)


def time_validate_batch(
    batch: RawBatch, feed: FeedSpec, gx_root: Path, run_id: str
) -> tuple[dict[str, float], Any]:
    """One ``validate_batch`` call: seconds in total, in Data Docs, in ``coerce``, and the rest."""
    from great_expectations.checkpoint.actions import UpdateDataDocsAction

    from include.quality import validate

    # As ingest does: a feed with pii columns is pseudonymised after its raw checks (a fixed
    # bench key; the HMAC costs the same under any key).
    pseudonymiser = Pseudonymiser(BENCH_PII_KEY) if feed.pii_columns else None
    totals: dict[str, float] = {}
    with (
        _timed(validate, "_build_evidence_docs", totals, "docs"),
        _timed(UpdateDataDocsAction, "run", totals, "docs"),
        _timed(validate, "coerce", totals, "coerce"),
    ):
        start = time.perf_counter()
        outcome = validate.validate_batch(
            batch, feed, gx_root=gx_root, run_id=run_id, pseudonymiser=pseudonymiser
        )
        total = time.perf_counter() - start
    shutil.rmtree(outcome.docs_dir, ignore_errors=True)
    docs, coerce_s = totals.get("docs", 0.0), totals.get("coerce", 0.0)
    times = {"total": total, "docs": docs, "coerce": coerce_s, "checks": total - docs - coerce_s}
    return times, outcome.report


# ---------------------------------------------------------------- the section
def run(spec: UseCaseSpec, scratch: Path, *, rows: int, reps: int) -> dict[str, Any]:
    """Measure, print and return the GX section (``figures`` holds the summary rows)."""
    feed = spec.events_feed
    print(f"\n== GX validation vs pandas floor ({rows:,} rows, median of {reps}) ==", flush=True)
    t0 = time.perf_counter()
    frame = simulator.simulate_transactions(spec, BATCH_DAY, rows=rows)
    batch = write_batch(frame, feed, scratch / "landing_clean", BATCH_DAY)
    t1 = time.perf_counter()
    typed = coerce(batch.frame, feed)
    t_coerce = time.perf_counter() - t1
    print(
        f"batch: simulate + CSV + read_batch {t1 - t0:.1f} s; {batch.total_bytes / 1e6:.0f} MB, "
        f"{len(batch.frame):,} rows; coerce {t_coerce:.2f} s (outside both timings)",
        flush=True,
    )

    t2 = time.perf_counter()
    gx = GxChecks()
    t_gx_setup = time.perf_counter() - t2
    gx_root = scratch / "gx"
    warm = batch.frame.head(1000)
    # Untimed warm-ups: GX's first-use costs and the GX project scaffolding of gx_root.
    gx.run(warm, coerce(warm, feed), feed, BATCH_DAY)
    time_validate_batch(RawBatch(feed.name, BATCH_DAY, batch.files, warm), feed, gx_root, "warmup")
    # Interleaved (pandas, GX, validate_batch per round): machine noise hits all three alike.
    pd_times: list[dict[str, float]] = []
    gx_times: list[dict[str, float]] = []
    vb_times: list[dict[str, float]] = []
    for i in range(reps):
        pd_result, times = pandas_checks(batch.frame, typed, feed, BATCH_DAY)
        pd_times.append(times)
        gx_result, times = gx.run(batch.frame, typed, feed, BATCH_DAY)
        gx_times.append(times)
        times, report = time_validate_batch(batch, feed, gx_root, f"bench-{i}")
        vb_times.append(times)
    clean = compare("clean batch", gx_result, pd_result)
    vb_success = report.success
    batch_bytes = batch.total_bytes
    del batch, typed

    rng = np.random.default_rng(7)
    faulted = write_batch(
        plant_faults(frame, feed, rng), feed, scratch / "landing_faulted", BATCH_DAY
    )
    del frame
    f_typed = coerce(faulted.frame, feed)
    f_gx, _ = gx.run(faulted.frame, f_typed, feed, BATCH_DAY)
    f_pd, _ = pandas_checks(faulted.frame, f_typed, feed, BATCH_DAY)
    planted = compare(
        f"planted faults: {', '.join(PLANTED)}, value not in set, int < min", f_gx, f_pd
    )

    def med(series: list[dict[str, float]], key: str) -> float:
        return median([t[key] for t in series])

    pd_s = median([sum(t.values()) for t in pd_times])
    gx_s = median([t["structure"] + t["content"] for t in gx_times])
    vb = {k: med(vb_times, k) for k in ("total", "docs", "coerce", "checks")}
    lines = [
        ("pandas floor (both stages)", pd_s, None),
        ("  structure (raw text)", med(pd_times, "structure"), None),
        ("  content (typed)", med(pd_times, "content"), None),
        ("GX checks only (both suites)", gx_s, gx_s / pd_s),
        ("  structure suite", med(gx_times, "structure"), None),
        ("  content suite", med(gx_times, "content"), None),
        ("validate_batch, full incl. docs", vb["total"], vb["total"] / pd_s),
        ("  of which Data Docs", vb["docs"], None),
        ("  of which coerce", vb["coerce"], None),
        ("validate_batch excl. docs + coerce", vb["checks"], vb["checks"] / pd_s),
    ]
    print(f"GX context set-up (import + ephemeral context) {t_gx_setup:.2f} s, not counted")
    print(
        f"GX get_batch before batch.validate (md5 of the whole frame, both suites) "
        f"{med(gx_times, 'get_batch'):.2f} s, not counted: batch.validate loads it again"
    )
    for label, seconds, ratio in lines:
        extra = f"   {ratio:5.2f}x pandas (target <= {RATIO_TARGET:g}x)" if ratio else ""
        print(f"  {label:<36} {fmt(seconds, 's'):>9}{extra}")
    print(f"  validate_batch verdict on the clean batch: success={vb_success}")
    print("  " + clean.line())
    print("  " + planted.line())
    figures = [
        Figure("gx", "pandas floor, both stages", pd_s, "s"),
        Figure("gx", "GX checks only, both suites", gx_s, "s"),
        Figure("gx", "GX checks only / pandas", gx_s / pd_s, "x", RATIO_TARGET),
        Figure("gx", "validate_batch full incl. docs", vb["total"], "s"),
        Figure("gx", "validate_batch full / pandas", vb["total"] / pd_s, "x", RATIO_TARGET),
        Figure(
            "gx",
            "validate_batch excl. docs+coerce / pandas",
            vb["checks"] / pd_s,
            "x",
            RATIO_TARGET,
        ),
    ]
    return {
        "rows": rows,
        "reps": reps,
        "batch_bytes": batch_bytes,
        "coerce_s": t_coerce,
        "gx_setup_s": t_gx_setup,
        "pandas_s": pd_times,
        "gx_checks_s": gx_times,
        "validate_batch_s": vb_times,
        "validate_batch_clean_success": vb_success,
        "medians_s": {
            "pandas": pd_s,
            "gx_checks": gx_s,
            **{f"validate_batch_{k}": v for k, v in vb.items()},
        },
        "sanity": [clean.to_dict(), planted.to_dict()],
        "figures": figures,
    }
