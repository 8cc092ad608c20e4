"""Quarantine a failed batch: keep the raw files, the reason and the evidence together.

Nothing is lost in the move: raw files are copied into ``quarantine/<feed>/<day>/<run>/raw/``
before they are removed from the landing zone, so a crash in between leaves two copies, never
none, and a retry finishes the move. A re-delivered (fixed) batch can then land again. The
evidence (raw files, unmasked report, Data Docs: raw personal data) is deleted after
``privacy.quarantine_retention_days`` (include/quality/retention.py); the summary stays.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from include import layout, storage

CHECK_FIELDS = (
    "name",
    "stage",
    "action",
    "column",
    "unexpected_count",
    "unexpected_percent",
    "observed",
    "sample_keys",
    "sample_values",
    "message",
    "history",
    "pii",
)


def overrulable(check: dict[str, Any]) -> bool:
    """A failed check a person may overrule: the batch against its history (the profile),
    not the spec's own rules; the re-delivery check (same rows twice) is never one."""
    return check.get("stage") == "history" and bool(check.get("history"))


def failed_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's failed checks (those that only warn included, with their action)."""
    return [{k: c.get(k) for k in CHECK_FIELDS} for c in report["checks"] if not c["success"]]


def quarantine_batch(
    report: dict[str, Any], evidence: dict[str, str], dest_uri: str
) -> dict[str, Any]:
    """Move the batch's files under ``dest_uri``; returns the summary alerts are built from."""
    raw_dir = layout.evidence(dest_uri, layout.RAW_FILES)
    moved = []
    for f in report["files"]:
        src = f["uri"]
        target = storage.join(raw_dir, src.rstrip("/").rsplit("/", 1)[-1])
        if storage.exists(src):
            storage.move(src, target)
        moved.append(target)
    # Evidence naming raw pii values was written here directly (include.steps.ingest).
    if evidence["report_uri"] != (target := layout.evidence(dest_uri, layout.VALIDATION_RESULT)):
        storage.copy(evidence["report_uri"], target)
    docs_root = evidence["data_docs_uri"].rsplit("/", 1)[0]
    if docs_root != (target := layout.evidence(dest_uri, layout.DATA_DOCS)):
        storage.copy_tree(docs_root, target)
    failed = failed_checks(report)
    summary = {
        "feed": report["feed"],
        "day": report["day"],
        "run_id": report["run_id"],
        "row_count": report["row_count"],
        # The delivered files' digest: a person's acceptance is bound to exactly these.
        "digest": evidence.get("digest"),
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "causes": report.get("causes", []),
        # Only the history failed: a person may accept it as the new normal (accept_batch).
        "acceptable": all(overrulable(c) for c in report["checks"] if not c["success"]),
        "history_partitions": report.get("history_partitions", 0),
        "failed_checks": failed,
        "evidence_uri": dest_uri,
        "validation_result_uri": layout.evidence(dest_uri, layout.VALIDATION_RESULT),
        "data_docs_uri": layout.evidence(dest_uri, layout.DATA_DOCS, "index.html"),
        "raw_files": moved,
    }
    storage.write_bytes(
        layout.evidence(dest_uri, layout.QUARANTINE_SUMMARY), json.dumps(summary, indent=2).encode()
    )
    return summary
