"""Named failures of the quality stage."""

from __future__ import annotations

from typing import Any


class BatchValidationFailed(Exception):
    """A landed batch failed validation and was quarantined.

    ``summary`` is the JSON-able quarantine summary (failed checks with counts and sample
    keys, where the evidence is); alert emails are built from it.
    """

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        failed = ", ".join(c["name"] for c in summary.get("failed_checks", [])) or "unknown"
        super().__init__(
            f"{summary.get('feed')} batch {summary.get('day')} quarantined: failed {failed}. "
            f"Evidence: {summary.get('evidence_uri')}"
        )


class BatchNotLanded(Exception):
    """No file of the batch has landed (yet)."""
