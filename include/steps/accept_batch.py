"""The ``accept_batch`` DAG's steps: a person accepts a quarantined batch as the new normal.

1. :func:`find`: the newest quarantined batch of the feed and day, refused when a person may
   not accept it (``include.quality.acceptance.check_acceptable``); returns the approval's
   subject and body (causes, evidence link).
2. (the DAG's ApprovalOperator: Approve or Reject, with a comment)
3. :func:`decide`: records the answer with who, when and why; on Approve, puts the raw files
   back in the landing zone and marks exactly this batch accepted, so the feed's ingest
   (triggered next by the DAG) publishes it and its profile moves.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from include import layout, storage
from include.config import get_settings
from include.quality import acceptance


def find(feed: str, day: str, run: str | None = None) -> dict[str, Any]:
    from include.console.links import console_or_location

    settings = get_settings()
    q = acceptance.latest_quarantine(settings.lake_uri, feed, date.fromisoformat(day), run or None)
    acceptance.check_acceptable(q, settings.lake_uri, settings.landing_uri)
    subject, body = acceptance.request_text(
        q, console_or_location(layout.evidence(q.folder, layout.DATA_DOCS, "index.html"))
    )
    return {"quarantine": q.to_dict(), "subject": subject, "body": body}


def decide(found: dict[str, Any], answer_payload: dict[str, Any] | None, run_id: str) -> dict:
    """The person's answer recorded; on Approve the batch is accepted (see module doc)."""
    from include.registry.approval import parse_answer

    settings = get_settings()
    q = acceptance.Quarantined(**found["quarantine"])
    answer = parse_answer(answer_payload)
    if answer is None or answer.decision != "approved":
        record = {
            "decision": "kept_in_quarantine",
            "feed": q.feed,
            "day": q.day,
            "quarantine_run": q.run,
            "digest": q.digest,
            "by": answer.by if answer else "",
            "at": answer.at if answer else datetime.now(UTC).isoformat(timespec="seconds"),
            "comment": answer.comment if answer else "no answer",
            "accept_run_id": run_id,
        }
        storage.write_bytes(
            layout.evidence(q.folder, layout.DECISION), json.dumps(record, indent=2).encode()
        )
        return record
    if not answer.comment.strip():
        raise acceptance.NotAcceptable(
            "an acceptance needs a comment saying why this is the new normal: run accept_batch "
            "again and write one"
        )
    return acceptance.accept(
        q,
        by=answer.by,
        comment=answer.comment,
        at=answer.at,
        run_id=run_id,
        lake_uri=settings.lake_uri,
        landing_uri=settings.landing_uri,
    )
