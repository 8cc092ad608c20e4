"""The console's quarantine page: every quarantined batch, what failed, and its evidence.

Everyone signed in sees a batch's summary (``quarantine.json``: causes and failed checks,
built from the masked report, so pii values are pseudonyms) and the masked validation report
in ``reports/``. The evidence (raw files, the unmasked validation result, its Data Docs) is
linked for admins only, and only until it is deleted (include/quality/retention.py): the
summary then says when and why. Plain data in, HTML out; no FastAPI, no Airflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from include import layout, storage
from include.console.lake import QUARANTINE_AREA, Entry, Target, is_evidence
from include.console.links import lake_relative
from include.console.pages import esc, fields, link, message, page, route, table
from include.quality import retention

log = logging.getLogger(__name__)

RESTRICTED = "quarantine evidence holds raw personal data: only admins can open it"
_CHECK_COLUMNS = ("name", "stage", "column", "unexpected_count", "message")


@dataclass(frozen=True)
class Batch:
    """One quarantined batch: its folder relative to the lake and its summary."""

    parts: tuple[str, ...]  # quarantine, <feed>, <day>, <run>
    summary: dict[str, Any]

    @property
    def folder(self) -> str:
        return "/".join(self.parts)

    @property
    def deleted(self) -> bool:
        return bool(self.summary.get(retention.DELETED_AT))


def batches(lake_uri: str) -> list[Batch]:
    """Every quarantined batch under the lake's quarantine area, newest first."""
    out = []
    for obj in storage.list_objects(storage.join(lake_uri, QUARANTINE_AREA)):
        rel = lake_relative(obj.uri, lake_uri)
        parts = tuple(rel.split("/")) if rel else ()
        if parts[-1:] != (layout.QUARANTINE_SUMMARY,) or is_evidence(parts, folder=False):
            continue  # not a batch's own summary (one in raw/ would be a raw file)
        try:
            summary = json.loads(storage.read_bytes(obj.uri))
        except (OSError, ValueError):
            summary = {"causes": ["the quarantine summary is not readable"]}
        out.append(Batch(parts[:-1], summary if isinstance(summary, dict) else {}))
    return sorted(out, key=lambda b: str(b.summary.get("quarantined_at") or ""), reverse=True)


def retention_days() -> int | None:
    """The use case's ``privacy.quarantine_retention_days`` (``None`` when the spec is not
    readable: the page still shows every batch)."""
    try:
        from include.config import get_settings
        from include.spec import load_spec

        return load_spec(get_settings().usecase_spec).privacy.quarantine_retention_days
    except Exception:  # noqa: BLE001 (a page, not a pipeline: say less, stay up)
        log.exception("cannot read privacy.quarantine_retention_days")
        return None


def masked_report_route(parts: tuple[str, ...], lake_uri: str) -> str | None:
    """The console route of the masked validation report of the batch a quarantine path
    (``quarantine/<feed>/<day>/<run>/...``) belongs to, or ``None`` for no batch's path."""
    if len(parts) < 4 or parts[0] != QUARANTINE_AREA:
        return None
    try:
        day = date.fromisoformat(parts[2])
        folder = layout.report_dir(lake_uri, parts[1], day, parts[3])
    except ValueError:
        return None
    rel = lake_relative(layout.evidence(folder, layout.VALIDATION_RESULT), lake_uri)
    return route("lake/" + quote(rel, safe="/")) if rel else None


def restricted(parts: tuple[str, ...], lake_uri: str) -> tuple[str, dict[str, str]]:
    """The 403 message for quarantine evidence, and where a non-admin can read instead."""
    where = {"quarantined batches": route("quarantine")}
    report = masked_report_route(parts, lake_uri) if len(parts) > 4 else None
    if report:
        where = {"masked report": report, **where}
        return f"{RESTRICTED}; the masked report is at {report}", where
    return f"{RESTRICTED}; the masked summaries are at {where['quarantined batches']}", where


def visible(target: Target, entries: list[Entry], admin: bool) -> tuple[list[Entry], int]:
    """A folder listing's entries one may open, and how many evidence entries were hidden."""
    if admin:
        return entries, 0
    shown = [e for e in entries if not is_evidence((*target.parts, e.name), folder=e.is_dir)]
    return shown, len(entries) - len(shown)


def links(batch: Batch, lake_uri: str, admin: bool) -> dict[str, str]:
    """What a batch's row links to: the summary and masked report for everyone; the
    evidence for admins, while it exists."""
    out = {"summary": route(f"lake/{batch.folder}/{layout.QUARANTINE_SUMMARY}")}
    if report := masked_report_route(batch.parts, lake_uri):
        out["masked report"] = report
    if admin and not batch.deleted:
        out["Data Docs"] = route(f"lake/{batch.folder}/{layout.DATA_DOCS}/index.html")
        out["validation result (unmasked)"] = route(
            f"lake/{batch.folder}/{layout.VALIDATION_RESULT}"
        )
        out["raw files"] = route(f"lake/{batch.folder}/{layout.RAW_FILES}/")
    return out


def evidence_state(batch: Batch, days: int | None) -> str:
    s = batch.summary
    if batch.deleted:
        return f"deleted at {s[retention.DELETED_AT]}: {s.get(retention.DELETED_REASON, '')}"
    due = retention.expires_at(s, days) if days else None
    return f"kept until {due.isoformat(timespec='seconds')}" if due else "kept"


def as_json(found: list[Batch], lake_uri: str, admin: bool) -> list[dict[str, Any]]:
    return [
        {"folder": b.folder, "summary": b.summary, "links": links(b, lake_uri, admin)}
        for b in found
    ]


def quarantine_page(found: list[Batch], lake_uri: str, admin: bool, days: int | None) -> str:
    kept = f"{days} days" if days else "privacy.quarantine_retention_days"
    parts = [
        message(
            "muted",
            "Batches that failed validation. Their summary (causes, failed checks; personal "
            "data pseudonymised) is open to everyone. The evidence (raw files, the unmasked "
            f"validation result, Data Docs) holds raw personal data: admins only, deleted "
            f"{kept} after the batch was quarantined.",
        ),
        f"<p>{link('Browse the quarantine folder', route(f'lake/{QUARANTINE_AREA}/'))}</p>",
    ]
    if not admin:
        parts.append(message("muted", "You are not an admin: evidence links are not shown."))
    for b in found:
        s = b.summary
        parts.append(f"<h2>{esc(s.get('feed'))} {esc(s.get('day'))} · {esc(b.parts[-1])}</h2>")
        overview = {
            "quarantined at": s.get("quarantined_at"),
            "rows": s.get("row_count"),
            "acceptable": "yes (history only)" if s.get("acceptable") else "no",
            "evidence": evidence_state(b, days),
        }
        parts.append(fields(overview))
        causes = s.get("causes") or []
        if causes:
            parts.append("<ul>" + "".join(f"<li>{esc(c)}</li>" for c in causes) + "</ul>")
        rows = [tuple(esc(c.get(k)) for k in _CHECK_COLUMNS) for c in s.get("failed_checks") or []]
        parts.append(table(("check", "stage", "column", "unexpected", "message"), rows))
        hrefs = [link(text, url) for text, url in links(b, lake_uri, admin).items()]
        parts.append("<p>" + " · ".join(hrefs) + "</p>")
    if not found:
        parts.append(message("muted", "No quarantined batch."))
    return page("Quarantine", "".join(parts))
