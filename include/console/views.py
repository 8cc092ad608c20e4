"""The console's pages: what each shows, built from plain data (no FastAPI, no Airflow).

Inventory and lineage data come from ``include.registry.inventory.build_inventory`` and
``include.lineage.trace``, imported when a page is asked for: when that code is missing or
fails, the page says so (:class:`Unavailable`, served as 503) instead of breaking the app.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from include import storage
from include.config import current_usecase
from include.console import links
from include.console.lake import Entry, Target
from include.console.pages import esc, fields, link, message, page, plain, route, table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unavailable:
    """Why a data source of a page could not answer."""

    what: str
    reason: str


def _call(module: str, func: str, what: str, **kwargs: Any) -> Any:
    try:
        target = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        return Unavailable(what, f"{module}.{func} is not available in this installation ({exc})")
    try:
        return target(**kwargs)
    except Exception as exc:  # a page reports the failure, the app stays up
        log.exception("%s failed", what)
        return Unavailable(what, f"{type(exc).__name__}: {exc}")


def load_inventory() -> dict[str, Any] | Unavailable:
    return _call("include.registry.inventory", "build_inventory", "the model inventory")


def load_lineage(
    prediction_id: str | None, transaction_id: str | None
) -> dict[str, Any] | Unavailable:
    return _call(
        "include.lineage",
        "trace",
        "the lineage trace",
        prediction_id=prediction_id,
        transaction_id=transaction_id,
    )


def unavailable_page(title: str, why: Unavailable) -> str:
    return page(title, message("error", f"Cannot show {why.what} now: {why.reason}"))


# ------------------------------------------------------------------------------- home
def home_page() -> str:
    rows = [
        (link("Model inventory", route("inventory")), "every model version, its status, KPIs"),
        (link("Lineage", route("lineage")), "a prediction or transaction back to its data"),
        (link("Deployments", route("deployments")), "every deployment attempt"),
        (link("Validation reports", route("lake/reports/validation/")), "GX Data Docs per run"),
        (link("Drift reports", route("lake/reports/drift/")), "Evidently reports per window"),
        (link("Promotion reports", route("lake/reports/promotion/")), "challenger vs champion"),
        (link("Quarantine", route("quarantine")), "batches that failed validation, and why"),
    ]
    body = table(("page", "what"), rows)
    from include.config import usecases

    if len(every := usecases()) > 1:  # several use cases: each its own pages
        from include.console.links import CONSOLE_PREFIX

        cases = [(link(u.name, f"{CONSOLE_PREFIX}/uc/{u.name}/"), _description(u)) for u in every]
        body += "<h2>Use cases</h2>" + table(("use case", "what"), cases)
    return page("MLOps console", body)


def _description(usecase: Any) -> str:
    try:
        from include.spec import load_spec

        return load_spec(usecase.spec).description
    except Exception as exc:  # noqa: BLE001 (a broken spec still lists its use case)
        return f"spec not readable: {exc}"


# ---------------------------------------------------------------------------- listing
def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def listing_page(target: Target, entries: Sequence[Entry], *, hidden: int = 0) -> str:
    """A folder of the lake: sub-folders first, links relative to the folder's URL;
    ``hidden`` entries (quarantine evidence, for admins only) are said, not shown."""
    rows = [(link("../", "../"), "", "")]
    for e in entries:
        name = e.name + ("/" if e.is_dir else "")
        rows.append((link(name, name), "folder" if e.is_dir else "file", esc(_size(e.size))))
    crumbs = " / ".join(esc(p) for p in target.parts)
    note = (
        message(
            "muted",
            f"{hidden} more: quarantine evidence (raw files, the unmasked validation result, "
            "Data Docs) holds raw personal data and is shown to admins only.",
        )
        if hidden
        else ""
    )
    return page(
        f"lake/{target.relative}",
        f"<p class='muted'>{crumbs}</p>" + table(("name", "kind", "size"), rows) + note,
    )


# ------------------------------------------------------------------------ deployments
def deployment_records(lake_uri: str) -> list[tuple[str, dict[str, Any]]]:
    """``(file name, record)`` of every ``<lake>/deployments/*.json``, newest first."""
    out = []
    folder = storage.join(lake_uri, "deployments")
    for obj in storage.list_objects(folder):
        if not obj.name.endswith(".json") or "/" in obj.uri[len(folder) + 1 :]:
            continue  # records only, not files of sub-folders
        try:
            record = json.loads(storage.read_bytes(obj.uri))
        except ValueError:
            record = {"outcome": "unreadable record"}
        out.append((obj.name, record if isinstance(record, dict) else {"value": record}))
    return sorted(out, key=lambda nr: str(nr[1].get("recorded_at", "")), reverse=True)


def deployments_page(records: list[tuple[str, dict[str, Any]]]) -> str:
    rows = []
    deploy_dag = current_usecase().qualify("deploy_model")
    for name, r in records:
        run_id = r.get("dag_run_id")
        rows.append(
            (
                esc(r.get("recorded_at")),
                esc(r.get("model")),
                esc(r.get("version")),
                f'<span class="tag {esc(r.get("outcome"))}">{esc(r.get("outcome"))}</span>',
                esc(r.get("previous_version")),
                esc(r.get("bento_tag")),
                link(run_id, links.run_url(deploy_dag, run_id)) if run_id else "",
                esc(plain(r.get("detail") or "")),
                link("JSON", route(f"lake/deployments/{name}")),
            )
        )
    headers = (
        "recorded at",
        "model",
        "version",
        "outcome",
        "replaced",
        "bento",
        "DAG run",
        "detail",
        "record",
    )
    return page("Deployments", table(headers, rows))


# -------------------------------------------------------------------------- inventory
def _tag(status: Any) -> str:
    return f'<span class="tag {esc(status)}">{esc(status)}</span>' if status else ""


def _kpis(kpis: dict[str, Any]) -> str:
    lts = kpis.get("landing_to_serving") or []
    tip = kpis.get("time_in_production") or []
    rate = kpis.get("rejection_rate")
    summary = fields(
        {
            "retrains": kpis.get("retrains"),
            "rejection rate": f"{rate:.0%}" if isinstance(rate, (int, float)) else rate,
        }
    )
    lts_rows = [
        (esc(k.get("version")), esc(_hours(k.get("seconds"))), esc(k.get("deployed_at")))
        for k in lts
    ]
    tip_rows = [(esc(k.get("version")), esc(k.get("days"))) for k in tip]
    return (
        summary
        + "<h3>Landing to serving</h3>"
        + table(("version", "landing → serving", "deployed at"), lts_rows)
        + "<h3>Time in production</h3>"
        + table(("version", "days"), tip_rows)
    )


def _hours(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return plain(seconds)
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _when(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {plain(v)}" for k, v in value.items() if k != "report_url")
    return plain(value)


def inventory_page(data: dict[str, Any]) -> str:
    parts = [f"<p class='muted'>Generated {esc(data.get('generated_at'))}</p>"]
    for m in data.get("models") or []:
        drift = m.get("last_drift") or {}
        overview = {
            "champion": m.get("champion"),
            "challenger": m.get("challenger"),
            "serving": m.get("serving"),
            "last training": _when(m.get("last_training")),
            "last retrain": _when(m.get("last_retrain")),
            "last drift check": _when(drift),
        }
        parts.append(f"<h2>{esc(m.get('name'))}</h2>{fields(overview)}")
        if drift.get("report_url"):
            parts.append(f"<p>{link('Last drift report', drift['report_url'])}</p>")
        versions = []
        for v in m.get("versions") or []:
            versions.append(
                (
                    esc(v.get("version")),
                    _tag(v.get("status")),
                    esc(v.get("created_at")),
                    esc(v.get("age_days")),
                    esc(v.get("retired_at")),
                    esc(v.get("retired_by")),
                )
            )
        parts.append("<h3>Versions</h3>")
        parts.append(
            table(
                ("version", "status", "created", "age (days)", "retired at", "retired by"), versions
            )
        )
        parts.append("<h3>KPIs</h3>" + _kpis(m.get("kpis") or {}))
    if not data.get("models"):
        parts.append(message("muted", "No registered model yet."))
    return page("Model inventory", "".join(parts))


# ---------------------------------------------------------------------------- lineage
def lineage_form(prediction_id: str = "", transaction_id: str = "") -> str:
    return (
        f'<form method="get" action="{esc(route("lineage"))}">'
        f'<label>prediction id <input name="prediction_id" value="{esc(prediction_id)}"></label> '
        f'<label>or transaction id <input name="transaction_id" value="{esc(transaction_id)}">'
        '</label> <button type="submit">Trace</button></form>'
    )


def lineage_page(data: dict[str, Any]) -> str:
    query = data.get("query") or {}
    parts = [
        lineage_form(str(query.get("prediction_id") or ""), str(query.get("transaction_id") or ""))
    ]
    if data.get("missing"):
        parts.append(f'<p class="missing">Trace stops: {esc(data["missing"])}</p>')
    for n, step in enumerate(data.get("steps") or [], start=1):
        parts.append(
            f"<h2>{n}. {esc(step.get('title'))} "
            f"<span class='tag'>{esc(step.get('kind'))}</span></h2>"
        )
        parts.append(fields(step.get("fields") or {}))
        hrefs = [link(x.get("text"), x.get("href")) for x in step.get("links") or []]
        if hrefs:
            parts.append("<p>" + " · ".join(hrefs) + "</p>")
    return page("Lineage", "".join(parts))
