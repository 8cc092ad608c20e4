"""Validate a landed batch: delivery checks, then the GX suites of ``include.quality.suites``.

Inputs: the feed spec, the batch day, the raw batch (``include.data.batches``), the GX
project folder and the run id. Output: a :class:`ValidationReport` (JSON-able; every failed
check with counts, sample keys and values) and, when the batch is valid, its typed frame.
The report and human-readable GX Data Docs are written by :func:`write_evidence`.

GX never raises on failed expectations (``success=False``), so the caller decides; here that
is the ingest DAG, which publishes or quarantines.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from include import layout, storage
from include.data.batches import RawBatch, coerce
from include.privacy.pseudonym import Pseudonymiser
from include.quality import history as history_checks
from include.quality import suites
from include.quality.history import History
from include.spec import FeedSpec

log = logging.getLogger(__name__)

SAMPLE_SIZE = 10


@dataclass
class CheckResult:
    """One check's outcome, in the words an on-call human needs."""

    name: str
    stage: str  # delivery | structure | content | history
    success: bool
    column: str | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed: Any = None
    sample_keys: list[Any] = field(default_factory=list)
    sample_values: list[Any] = field(default_factory=list)
    message: str = ""
    # quarantine: a failure stops the batch; warn: the batch is published and a mail says
    # what changed (history checks, as the spec's ``history`` section says).
    action: str = "quarantine"
    # A history check's kind, column and the normal its bounds came from (else None).
    history: dict[str, Any] | None = None


@dataclass
class ValidationReport:
    feed: str
    day: str
    run_id: str
    success: bool
    row_count: int
    files: list[dict[str, Any]]
    checks: list[CheckResult]
    gx_results: dict[str, Any] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)
    null_rates: dict[str, float] = field(default_factory=dict)
    # What changed, in words (include.quality.history.causes), most telling first.
    causes: list[str] = field(default_factory=list)
    # The feed's profile the history checks compared with, and how many partitions it held.
    profile_version: int | None = None
    history_partitions: int = 0
    # A person's acceptance of this batch as the new normal (who, when, why), if any.
    accepted: dict[str, Any] | None = None

    @property
    def failed(self) -> list[CheckResult]:
        """Failed checks that stop the batch."""
        return [c for c in self.checks if not c.success and c.action != "warn"]

    @property
    def warnings(self) -> list[CheckResult]:
        """Failed checks that only warn: the batch is published, a mail says what changed."""
        return [c for c in self.checks if not c.success and c.action == "warn"]

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def jsonable(value: Any) -> Any:
    """Numpy scalars, timestamps and NaN (GX results are full of them) to plain JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (pd.Timestamp, date)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, (int, float)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


# ---------------------------------------------------------------- delivery checks (no GX)
def delivery_checks(batch: RawBatch, feed: FeedSpec) -> list[CheckResult]:
    limit = int(feed.max_batch_mb * 1024 * 1024)
    checks = [
        CheckResult(
            name="batch_size_within_limit",
            stage="delivery",
            success=batch.total_bytes <= limit,
            observed={"bytes": batch.total_bytes, "limit_bytes": limit},
            message=f"{batch.total_bytes} bytes in {len(batch.files)} file(s); limit {limit}",
        )
    ]
    unreadable = [f for f in batch.files if f.error and "too large" not in f.error]
    checks.append(
        CheckResult(
            name="files_readable",
            stage="delivery",
            success=not unreadable,
            unexpected_count=len(unreadable),
            sample_values=[f"{f.uri}: {f.error}" for f in unreadable[:SAMPLE_SIZE]],
        )
    )
    headers = {f.columns for f in batch.files if f.size and not f.error}
    checks.append(
        CheckResult(
            name="parts_share_header",
            stage="delivery",
            success=len(headers) <= 1,
            observed=[list(h) for h in headers] if len(headers) > 1 else None,
            message="" if len(headers) <= 1 else "the batch's files have different headers",
        )
    )
    cut = truncated_files(batch)
    checks.append(
        CheckResult(
            name=COMPLETE_FILES,
            stage="delivery",
            success=not cut,
            unexpected_count=len(cut),
            sample_values=cut[:SAMPLE_SIZE],
            message="; ".join(cut[:3]),
        )
    )
    return checks


COMPLETE_FILES = "files_end_with_a_complete_line"


def truncated_files(batch: RawBatch) -> list[str]:
    """``"<file> <how it ends>"`` for each file whose last line is incomplete."""
    return [
        f"{f.uri.rstrip('/').rsplit('/', 1)[-1]} {f.truncated}" for f in batch.files if f.truncated
    ]


# ---------------------------------------------------------------- GX
@contextmanager
def gx_context(gx_root: Path) -> Iterator[Any]:
    """A file-backed GX context, locked: concurrent tasks share its stores and config."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage pings from workers
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_root.mkdir(parents=True, exist_ok=True)
    with open(gx_root / ".mlops.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ctx = gx.get_context(mode="file", project_root_dir=str(gx_root))
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
            yield ctx
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_suite(
    ctx: Any,
    name: str,
    frame: pd.DataFrame,
    expectations: list[Any],
    key: str,
    *,
    keys: bool = True,
) -> tuple[Any, Any]:
    import great_expectations as gx

    source = ctx.data_sources.add_or_update_pandas(name="landed_batches")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch_def = asset.get_batch_definition("whole_batch")
    except (KeyError, LookupError, ValueError):
        batch_def = asset.add_batch_definition_whole_dataframe("whole_batch")
    # Replaced whole, not merged: GX's add_or_update compares every stored expectation with
    # every new one (seconds for a suite of a hundred), and the suites change every day (the
    # history's bounds, the day's event-time window). The context is locked (gx_context).
    suite = _replace(ctx.suites, name, gx.ExpectationSuite(name=name, expectations=expectations))
    vdef = _replace(
        ctx.validation_definitions,
        name,
        gx.ValidationDefinition(name=name, data=batch_def, suite=suite),
    )
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_SIZE,
    }
    if keys and key in frame.columns:
        result_format["unexpected_index_column_names"] = [key]
    checkpoint = _replace(
        ctx.checkpoints,
        f"{name}_checkpoint",
        gx.Checkpoint(
            name=f"{name}_checkpoint",
            validation_definitions=[vdef],
            # No action: the evidence's own Data Docs are built from the results once all
            # suites ran (_build_evidence_docs), then the results leave GX's stores.
            actions=[],
            result_format=result_format,
        ),
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    (identifier, vresult), *_ = result.run_results.items()
    return identifier, vresult


def _replace(factory: Any, name: str, new: Any) -> Any:
    """Store ``new`` under ``name`` in a GX factory (suites, validation definitions,
    checkpoints), dropping what was there."""
    try:
        factory.delete(name)
    except Exception as exc:  # noqa: BLE001 - GX raises several types for "not there"
        log.debug("GX %s not deleted before replacing it: %s", name, exc)
    return factory.add(new)


def _check_name(cfg: Any, column: str | None, history: dict[str, Any] | None) -> str:
    if history is None:
        return f"{cfg.type}({column})" if column else cfg.type
    value = history.get("value")
    what = column if value is None else f"{column}={value}"
    return f"history.{history['check']}({what})" if what else f"history.{history['check']}"


def _to_checks(vresult: Any, stage: str, key: str) -> list[CheckResult]:
    checks = []
    for r in vresult.results:
        cfg = r.expectation_config
        column = cfg.kwargs.get("column")
        history = (cfg.meta or {}).get("history")
        if history is not None:
            history = {**history, "gx": cfg.type}
        res = r.result or {}
        exc = (r.exception_info or {}).get("exception_message") if r.exception_info else None
        # A history check judges the batch, not rows: no sample keys (its suite lists no
        # keys), and sample values only where they name something (new or missing values).
        keys = (
            []
            if history
            else [
                i.get(key) if isinstance(i, dict) else i
                for i in (res.get("partial_unexpected_index_list") or [])
            ]
        )
        samples = res.get("partial_unexpected_list") or res.get("partial_missing_list") or []
        if history and history["check"] not in ("new_categories", "vanished_categories"):
            samples = []
        checks.append(
            CheckResult(
                name=_check_name(cfg, column, history),
                stage="history" if history else stage,
                success=bool(r.success),
                column=column,
                unexpected_count=res.get("unexpected_count"),
                unexpected_percent=res.get("unexpected_percent"),
                observed=res.get("observed_value")
                if "observed_value" in res
                else res.get("details"),
                sample_keys=jsonable(keys[:SAMPLE_SIZE]),
                # For a check on the key itself the values are the keys: say them once.
                sample_values=[] if column == key else jsonable(samples[:SAMPLE_SIZE]),
                message=exc or "",
                action=history["action"] if history else "quarantine",
                history=jsonable(history),
            )
        )
    return jsonable_checks(checks)


def jsonable_checks(checks: list[CheckResult]) -> list[CheckResult]:
    for c in checks:
        c.observed = jsonable(c.observed)
    return checks


def _build_evidence_docs(ctx: Any, identifiers: list[Any], out_dir: Path) -> None:
    site = "mlops_evidence"
    ctx.add_data_docs_site(
        site_name=site,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(out_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    try:
        ctx.build_data_docs(site_names=[site], resource_identifiers=identifiers)
    finally:
        ctx.delete_data_docs_site(site)


def _forget(ctx: Any, identifiers: list[Any]) -> None:
    """Drop this validation's results from the GX context's store: they list failing values
    (raw personal data among them), and the run's evidence holds them already, written
    where the batch goes (the lake's reports, or quarantine). Left there, every run's
    results would pile up in the shared GX folder for ever."""
    store = ctx.validation_results_store
    for identifier in identifiers:
        try:
            store.remove_key(identifier)
        except (KeyError, FileNotFoundError, OSError) as exc:  # gone already: fine
            log.debug("validation result %s not removed: %s", identifier, exc)


# ---------------------------------------------------------------- entry point
@dataclass
class ValidationOutcome:
    report: ValidationReport
    typed: pd.DataFrame | None  # the frame to publish, None when the batch failed
    docs_dir: Path  # local folder with the Data Docs of this validation


def validate_batch(
    batch: RawBatch,
    feed: FeedSpec,
    *,
    gx_root: Path,
    run_id: str,
    existing_keys: Callable[[], dict[str, set[Any]]] | None = None,
    history: History | None = None,
    accepted: dict[str, Any] | None = None,
    pseudonymiser: Pseudonymiser | None = None,
) -> ValidationOutcome:
    """Run every check; never raises for bad data (the report says what failed).

    ``existing_keys`` returns the keys already published in neighbouring partitions, by
    partition; a batch repeating them is a re-delivery (A5) and fails the history check.
    ``history``: the feed's recent partitions (its profile); the batch-level checks compare
    with them (``include.quality.history``), and the report names what changed.
    ``accepted``: a person's acceptance of exactly this batch as the new normal
    (``include.quality.acceptance``): its history checks then only warn.
    ``pseudonymiser``: the feed's pii columns are replaced by their pseudonyms once the
    spec's rules (about raw values) have run; the history checks and the frame to publish
    only ever see pseudonyms. Required when the feed has pii columns.
    """
    if feed.pii_columns and pseudonymiser is None:
        raise ValueError(f"{feed.name} has pii columns {feed.pii_columns}: pass a pseudonymiser")
    day: date = batch.day
    if accepted and history is not None:  # its history checks warn, and stop nothing
        history = replace(history, accepted=True)
    checks = delivery_checks(batch, feed)
    raw = batch.frame
    gx_results: dict[str, Any] = {}
    identifiers: list[Any] = []
    typed: pd.DataFrame | None = None
    dropped: list[str] = []
    null_rates: dict[str, float] = {}
    docs_dir = Path(tempfile.mkdtemp(prefix=f"gx-docs-{feed.name}-"))

    # A cut file is still validated: its row count and content say how much is missing.
    if all(c.success for c in checks if c.name != COMPLETE_FILES):
        with gx_context(gx_root) as ctx:
            exps = [
                e
                for e in [
                    *suites.raw_expectations(feed),
                    *(history_checks.raw_expectations(history) if history else []),
                ]
                if getattr(e, "column", None) is None or e.column in raw.columns
            ]
            ident, vres = _run_suite(ctx, f"{feed.name}_raw", raw, exps, feed.key)
            identifiers.append(ident)
            gx_results["structure"] = jsonable(vres.describe_dict())
            structure = _to_checks(vres, "structure", feed.key)
            checks += structure
            # A history check that only warns does not stop the content checks.
            if all(c.success or c.action == "warn" for c in structure):
                typed = coerce(raw, feed)
                if feed.extra_columns == "drop":
                    dropped = [c for c in typed.columns if c not in feed.column_names]
                    typed = typed[feed.column_names]
                ident, vres = _run_suite(
                    ctx, feed.name, typed, suites.content_expectations(feed, day), feed.key
                )
                identifiers.append(ident)
                gx_results["content"] = jsonable(vres.describe_dict())
                checks += _to_checks(vres, "content", feed.key)
                if pseudonymiser is not None:
                    typed = pseudonymiser.frame(typed, feed.pii_columns)
                against = (
                    [
                        e
                        for e in history_checks.content_expectations(history, len(typed))
                        if e.column in typed.columns
                    ]
                    if history
                    else []
                )
                if against:
                    # A suite of its own: a share check's "unexpected" rows are most rows,
                    # and listing their keys (as the rule suites do) costs seconds.
                    ident, vres = _run_suite(
                        ctx, f"{feed.name}_history", typed, against, feed.key, keys=False
                    )
                    identifiers.append(ident)
                    gx_results["history"] = jsonable(vres.describe_dict())
                    checks += _to_checks(vres, "history", feed.key)
                null_rates = (
                    {c: round(float(typed[c].isna().mean()), 6) for c in typed.columns}
                    if len(typed)
                    else {}
                )
            _build_evidence_docs(ctx, identifiers, docs_dir)
            _forget(ctx, identifiers)

    if (
        typed is not None
        and all(c.success or c.action == "warn" for c in checks)
        and existing_keys is not None
    ):
        checks.append(_history_check(typed, feed, existing_keys()))
    arrival = history_checks.arrival_check(history, day, batch.arrived) if history else None
    if arrival is not None:
        meta = arrival["meta"]["history"]
        checks.append(
            CheckResult(
                name="history.arrival_hours",
                stage="history",
                success=arrival["success"],
                observed=arrival["observed"],
                action=meta["action"],
                history=meta,
            )
        )

    if accepted:
        for c in checks:
            if c.history and not c.success:
                c.action = "warn"
                c.message = (
                    f"accepted as the new normal by {accepted.get('by')} at {accepted.get('at')}"
                    f": {accepted.get('comment')}"
                )
    success = all(c.success or c.action == "warn" for c in checks)
    report = ValidationReport(
        feed=feed.name,
        day=day.isoformat(),
        run_id=run_id,
        success=success,
        row_count=len(raw),
        files=[f.to_dict() for f in batch.files],
        checks=checks,
        gx_results=gx_results,
        dropped_columns=dropped,
        null_rates=null_rates,
        causes=history_checks.causes(checks, truncated_files(batch)),
        profile_version=history.profile_version if history else None,
        history_partitions=history.count if history else 0,
        accepted=accepted,
    )
    for rate_col, rate in null_rates.items():
        if rate > 0:
            log.info("%s %s: null rate %.4f in %s", feed.name, day, rate, rate_col)
    return ValidationOutcome(report=report, typed=typed if success else None, docs_dir=docs_dir)


def _history_check(
    typed: pd.DataFrame, feed: FeedSpec, existing: dict[str, set[Any]]
) -> CheckResult:
    keys = typed[feed.key]
    seen_in: dict[str, int] = {}
    repeated: list[Any] = []
    for partition, known in sorted(existing.items()):
        hits = keys[keys.isin(known)]
        if len(hits):
            seen_in[partition] = int(len(hits))
            repeated.extend(hits.head(SAMPLE_SIZE).tolist())
    count = sum(seen_in.values())
    return CheckResult(
        name=f"keys_not_already_ingested({feed.key})",
        stage="history",
        success=count == 0,
        column=feed.key,
        unexpected_count=count,
        unexpected_percent=round(100.0 * count / max(len(keys), 1), 4),
        observed={"already_in_partitions": seen_in},
        sample_keys=jsonable(repeated[:SAMPLE_SIZE]),
        message=""
        if count == 0
        else f"{count} row(s) were already published in {sorted(seen_in)}: a re-delivery",
    )


def write_evidence(
    outcome: ValidationOutcome, dest_uri: str, report: dict[str, Any] | None = None
) -> dict[str, str]:
    """Write ``validation_result.json`` (``report``, default the outcome's) and the Data
    Docs under ``dest_uri``."""
    report_uri = layout.evidence(dest_uri, layout.VALIDATION_RESULT)
    body = outcome.report.to_dict() if report is None else report
    storage.write_bytes(report_uri, json.dumps(body, indent=2, sort_keys=True).encode())
    docs_uri = layout.evidence(dest_uri, layout.DATA_DOCS)
    storage.copy_tree(outcome.docs_dir, docs_uri)
    return {"report_uri": report_uri, "data_docs_uri": storage.join(docs_uri, "index.html")}
