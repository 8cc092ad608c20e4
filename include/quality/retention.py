"""Quarantine evidence is kept for ``privacy.quarantine_retention_days``, then deleted.

A quarantined batch's folder (``quarantine/<feed>/<day>/<run>/``, include/layout.py) holds
the raw files, the unmasked validation result and its Data Docs: raw personal data, kept
only as long as someone may need it to decide about the batch. :func:`expire_quarantine`
deletes every file of the folder but :data:`KEPT` once the batch is older than the
retention, measured from its summary's ``quarantined_at``, and marks the summary with
``evidence_deleted_at`` and why, so the console and the lineage still say what happened.

:data:`KEPT` is an allow-list on purpose: evidence a later version adds is covered without a
change here, and the console opens to every user only these files of a batch (the rest is
for admins, include/console/lake.py).

Idempotent and safe to repeat: files go first, the summary's mark last, so a crash in
between is finished by the next call; a batch already marked is only swept again (nothing
to delete unless someone put files back). A folder with evidence but no summary (its ingest
wrote the unmasked evidence and never got to quarantine the batch) is dated by its newest
file instead. Plain Python on include.storage: local or ``s3://`` lakes alike.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from include import layout, storage

log = logging.getLogger(__name__)

# What stays of a quarantined batch, and all of it anyone signed in may read: the summary
# (built from the masked report) and a person's decision about the batch.
KEPT: tuple[str, ...] = (layout.QUARANTINE_SUMMARY, layout.DECISION)
# Fields the summary gains when its evidence is deleted.
DELETED_AT = "evidence_deleted_at"
DELETED_REASON = "evidence_deleted_reason"


@dataclass
class RetentionResult:
    """What one call did (the task's XCom): batches expired now, files deleted, folders
    that could not be dated (left as they are, named so someone looks)."""

    feed: str
    retention_days: int
    expired: list[str] = field(default_factory=list)
    deleted_files: int = 0
    undated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def feed_quarantine_dir(lake_uri: str, feed: str) -> str:
    """Every quarantined batch of ``feed``: the parent of its day folders (layout's)."""
    return layout.quarantine_day_dir(lake_uri, feed, date.min).rsplit("/", 1)[0]


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime (naive ones are UTC), else ``None``."""
    try:
        when = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def expires_at(summary: dict[str, Any], retention_days: int) -> datetime | None:
    """When the evidence of a quarantined batch is due for deletion (``None``: undated)."""
    quarantined = parse_time(summary.get("quarantined_at"))
    return quarantined + timedelta(days=retention_days) if quarantined else None


def deletion_reason(quarantined_at: Any, retention_days: int) -> str:
    return (
        f"privacy.quarantine_retention_days is {retention_days}: the raw files, the unmasked "
        f"validation result and the Data Docs were deleted {retention_days} days after the "
        f"batch was quarantined ({quarantined_at})"
    )


def expire_quarantine(
    lake_uri: str, feed: str, retention_days: int, *, now: datetime | None = None
) -> RetentionResult:
    """Delete the evidence of ``feed``'s quarantined batches older than ``retention_days``."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    now = now or datetime.now(UTC)
    result = RetentionResult(feed=feed, retention_days=retention_days)
    root = feed_quarantine_dir(lake_uri, feed)
    stamp = now.isoformat(timespec="seconds")
    for folder, objects in _batches(root).items():
        summary_uri = layout.evidence(folder, layout.QUARANTINE_SUMMARY)
        evidence = [o for o in objects if _relative(o, folder) not in KEPT]
        if any(o.uri == summary_uri for o in objects):
            summary = _read_summary(summary_uri)
            due = expires_at(summary, retention_days) if summary is not None else None
        elif evidence:  # orphaned evidence: dated by its newest file
            summary = None
            times = [o.modified for o in evidence if o.modified is not None]
            due = max(times) + timedelta(days=retention_days) if times else None
        else:
            continue  # a decision record alone: nothing raw here
        if due is None:
            result.undated.append(folder)
            log.warning("quarantine folder %s cannot be dated: its evidence is kept", folder)
            continue
        if now < due:
            continue
        for obj in evidence:
            storage.delete(obj.uri)
        result.deleted_files += len(evidence)
        _prune_empty_dirs(folder)
        marked = summary is not None and not summary.get(DELETED_AT)
        if marked:  # written last: a crash before it is finished by the next call
            summary[DELETED_AT] = stamp
            summary[DELETED_REASON] = deletion_reason(summary.get("quarantined_at"), retention_days)
            summary["evidence_retention_days"] = retention_days
            storage.write_bytes(summary_uri, json.dumps(summary, indent=2).encode())
        if evidence or marked:
            result.expired.append(folder)
    return result


def _batches(root: str) -> dict[str, list[storage.ObjectInfo]]:
    """Files under ``root`` by batch folder (``<day>/<run>/``); day-level files left out."""
    out: dict[str, list[storage.ObjectInfo]] = {}
    prefix = root.rstrip("/") + "/"
    for obj in storage.list_objects(root):
        rel = obj.uri[len(prefix) :].split("/")
        if len(rel) >= 3:  # <day>/<run>/<file...>; <day>/<file> is an acceptance record
            out.setdefault(storage.join(root, rel[0], rel[1]), []).append(obj)
    return out


def _relative(obj: storage.ObjectInfo, folder: str) -> str:
    """``raw/x.csv``, ``quarantine.json``: a file's path inside its batch folder."""
    return obj.uri[len(folder.rstrip("/")) + 1 :]


def _read_summary(uri: str) -> dict[str, Any] | None:
    try:
        summary = json.loads(storage.read_bytes(uri))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def _prune_empty_dirs(folder: str) -> None:
    """A local lake keeps empty folders after its files go (``raw/``, ``data_docs/...``):
    remove them so a listing does not show evidence that is no longer there. S3 has none."""
    if storage.is_s3(folder) or not os.path.isdir(folder):
        return
    for path, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        if path != folder and not os.listdir(path):
            os.rmdir(path)
