"""A new normal, accepted by a person: the only way a quarantined batch is ever published.

When a shift is real (a new market, a price change), an operator triggers ``accept_batch``
for the feed and day, reads the causes and the evidence, and approves with a comment in
Airflow's "Required actions" (the HITL ApprovalOperator, as promotions do). Then
:func:`accept`:

1. records the decision (who, when, why, the causes, the batch's digest) next to the
   quarantined batch and in ``<lake>/quarantine/<feed>/<day>/accepted-<digest>.json``;
2. puts the raw files back in the landing zone (the source of record);

and the DAG runs the feed's ingest for the day. Ingest finds the acceptance of exactly these
files (:func:`accepted`) and lets the history checks only warn: the batch is published and
its statistics enter the profile, so the normal moves. A batch that breaks the spec's own
rules (types, ranges, schema, a cut file) cannot be accepted (:class:`NotAcceptable`): fix the
data or the spec. Changed files are another batch: no acceptance carries over.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from include import layout, storage
from include.quality import retention
from include.quality.quarantine import overrulable


class NotAcceptable(RuntimeError):
    """The quarantined batch cannot become the new normal (it breaks the spec's rules, it
    was accepted already, a newer delivery waits, or there is none)."""


@dataclass(frozen=True)
class Quarantined:
    feed: str
    day: str
    run: str  # the quarantine folder's name (the ingest run)
    folder: str
    digest: str
    causes: list[str]
    failed: list[dict[str, Any]]
    raw_files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_digest(sha256s: list[str]) -> str:
    """One delivered batch's identity: its files' contents, whatever their names."""
    import hashlib

    return hashlib.sha256("".join(sorted(sha256s)).encode()).hexdigest()[:16]


def latest_quarantine(lake_uri: str, feed: str, day: date, run: str | None = None) -> Quarantined:
    """The newest quarantined batch of ``feed`` for ``day`` (or the run ``run``)."""
    base = layout.quarantine_day_dir(lake_uri, feed, day)
    summaries = sorted(
        o.uri
        for o in storage.list_objects(base)
        if o.name == layout.QUARANTINE_SUMMARY
        and (run is None or o.uri.rstrip("/").split("/")[-2] == layout.run_slug(run))
    )
    if not summaries:
        raise NotAcceptable(f"nothing of {feed} for {day} is in quarantine (under {base})")
    found = [(uri, json.loads(storage.read_bytes(uri))) for uri in summaries]
    uri, summary = max(found, key=lambda f: str(f[1].get("quarantined_at") or f[0]))
    folder = uri.rsplit("/", 1)[0]
    if summary.get(retention.DELETED_AT):
        raise NotAcceptable(
            f"the {feed} batch for {day} can no longer be accepted: "
            f"{summary.get(retention.DELETED_REASON) or 'its evidence was deleted'}; "
            "land it again"
        )
    # The summary is masked (pii as pseudonyms): what the reviewer sees. A summary written
    # before it carried the digest and the checks' history falls back to the full report.
    digest, failed = summary.get("digest"), summary.get("failed_checks")
    if digest is None or failed is None or any("history" not in c for c in failed):
        report = json.loads(storage.read_bytes(layout.evidence(folder, layout.VALIDATION_RESULT)))
        digest = batch_digest([f["sha256"] for f in report["files"]])
        failed = [c for c in report["checks"] if not c["success"]]
    return Quarantined(
        feed=feed,
        day=day.isoformat(),
        run=folder.rstrip("/").rsplit("/", 1)[-1],
        folder=folder,
        digest=digest,
        causes=list(summary.get("causes") or []),
        failed=failed,
        raw_files=list(summary.get("raw_files") or []),
    )


def check_acceptable(q: Quarantined, lake_uri: str, landing_uri: str) -> None:
    """Refuse what a person may not turn into a publication, saying what to do instead."""
    rules = [c["name"] for c in q.failed if not overrulable(c)]
    if rules:
        raise NotAcceptable(
            f"the {q.feed} batch for {q.day} breaks the spec's own rules ({', '.join(rules)}), "
            "not only its history: fix the data and land it again, or change the spec"
        )
    if storage.exists(layout.acceptance_uri(lake_uri, q.feed, date.fromisoformat(q.day), q.digest)):
        raise NotAcceptable(f"the {q.feed} batch for {q.day} ({q.digest}) was accepted already")
    waiting = storage.list_objects(
        layout.landing_dir(landing_uri, q.feed, date.fromisoformat(q.day))
    )
    if waiting and _digest_of(waiting) != q.digest:  # the same files: a retried acceptance
        raise NotAcceptable(
            f"a newer {q.feed} delivery for {q.day} is in the landing zone "
            f"({', '.join(o.name for o in waiting)}): ingest it, or remove it first"
        )


def _digest_of(files: list[storage.ObjectInfo]) -> str:
    import hashlib

    return batch_digest([hashlib.sha256(storage.read_bytes(f.uri)).hexdigest() for f in files])


def request_text(q: Quarantined, evidence_link: str) -> tuple[str, str]:
    """The approval's subject and Markdown body: what changed and where the evidence is."""
    subject = f"Accept the quarantined {q.feed} batch of {q.day} as the new normal?"
    lines = [
        f"The **{q.feed}** batch for **{q.day}** was quarantined because it differs from the "
        "feed's recent history:",
        "",
        *[f"- {c}" for c in q.causes],
        "",
        f"Evidence (validation result, Data Docs, raw files): {evidence_link}",
        "",
        "**Approve** if the change is real (a new market, a price change): the batch is "
        "published and the feed's profile moves with it. **Reject** keeps it in quarantine. "
        "Say why in the comment; it is recorded with your name.",
    ]
    return subject, "\n".join(lines)


def accept(
    q: Quarantined, *, by: str, comment: str, at: str, run_id: str, lake_uri: str, landing_uri: str
) -> dict[str, Any]:
    """Record the decision and put the raw files back in the landing zone; returns the
    decision. Idempotent: a retry finds its record and the files in place."""
    the_day = date.fromisoformat(q.day)
    decision = {
        "decision": "accepted",
        "feed": q.feed,
        "day": q.day,
        "quarantine_run": q.run,
        "quarantine_folder": q.folder,
        "digest": q.digest,
        "causes": q.causes,
        "overruled_checks": [c["name"] for c in q.failed],
        "by": by,
        "at": at,
        "comment": comment,
        "accept_run_id": run_id,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    body = json.dumps(decision, indent=2).encode()
    storage.write_bytes(layout.evidence(q.folder, layout.DECISION), body)
    landing = layout.landing_dir(landing_uri, q.feed, the_day)
    for raw in q.raw_files:
        target = storage.join(landing, raw.rstrip("/").rsplit("/", 1)[-1])
        if storage.exists(raw) and not storage.exists(target):
            storage.copy(raw, target)  # the quarantine keeps its copy: the evidence stays
    # Written last: ingest publishes only once the files are back and the decision is whole.
    storage.write_bytes(layout.acceptance_uri(lake_uri, q.feed, the_day, q.digest), body)
    return decision


def accepted(lake_uri: str, feed: str, day: date, digest: str) -> dict[str, Any] | None:
    """The person's acceptance of exactly this batch (its digest), if any."""
    uri = layout.acceptance_uri(lake_uri, feed, day, digest)
    return json.loads(storage.read_bytes(uri)) if storage.exists(uri) else None
