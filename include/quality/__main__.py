"""Pre-flight check for data producers: the verdict ingest would give a file, before it lands.

    python -m include.quality check <feed> <file> [<file> ...] [--day YYYY-MM-DD]
        [--usecase NAME] [--docs DIR] [--json]

The same suites as ingest (the spec's rules and the history checks against the feed's
newest profile in the platform's lake, ``MLOPS_DATA_ROOT`` / ``MLOPS_LAKE_URI``), the same
named causes. Nothing is written to the platform: GX runs in a temporary project; ``--docs``
keeps its Data Docs. The day defaults to the file's folder name (the landing layout
``<feed>/<YYYY-MM-DD>/``). When the file arrives is not judged (it has not landed).

Exit status: 0 publish (warnings printed), 1 quarantine, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

from include import storage
from include.config import activate, get_settings
from include.privacy.pseudonym import Pseudonymiser
from include.spec import FeedSpec, load_spec


def _day(paths: list[Path], given: str | None) -> date:
    if given:
        return date.fromisoformat(given)
    for p in paths:
        try:
            return date.fromisoformat(p.resolve().parent.name)
        except ValueError:
            continue
    raise ValueError(
        "which day is the batch for? pass --day YYYY-MM-DD (or keep the file in a folder "
        "named after its day, as the landing zone does)"
    )


def check(feed: str, paths: list[Path], day: date, docs: Path | None = None) -> dict:
    """Validate ``paths`` as the batch of ``feed`` for ``day``; returns the report (dict)."""
    from include.data import batches, lake
    from include.quality.history import load_history
    from include.quality.validate import validate_batch

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    feed_spec = spec.feed(feed)
    # Not landed yet: no arrival time to judge.
    files = [storage.ObjectInfo(str(p.resolve()), p.stat().st_size) for p in paths]
    raw = batches.read_batch(feed, day, files, max_bytes=feed_spec.max_batch_mb * 1024 * 1024)
    gx_root = Path(tempfile.mkdtemp(prefix="mlops-preflight-gx-"))
    try:
        outcome = validate_batch(
            raw,
            feed_spec,
            gx_root=gx_root,
            run_id=f"preflight_{feed}_{day.isoformat()}",
            existing_keys=lambda: lake.neighbour_keys(
                settings.lake_uri, feed, day, feed_spec.key, feed_spec.allowed_lateness_hours
            ),
            history=load_history(spec, feed, day, settings.lake_uri),
            pseudonymiser=_pseudonymiser(feed_spec),
        )
    finally:
        shutil.rmtree(gx_root, ignore_errors=True)
    try:
        if docs is not None:
            shutil.copytree(outcome.docs_dir, docs, dirs_exist_ok=True)
    finally:
        shutil.rmtree(outcome.docs_dir, ignore_errors=True)
    return outcome.report.to_dict()


def _pseudonymiser(feed: FeedSpec) -> Pseudonymiser | None:
    """The platform's key when this machine has it; else, unless the feed's key is pii (the
    re-delivery check compares it with the lake's pseudonyms), a throw-away key: the
    history compares a pii column by its count of distinct values, the same under any key.
    The file's values are the producer's own: the report shows them raw."""
    import os

    from include.privacy.keys import PiiKeyError, load_key

    if not feed.pii_columns:
        return None
    try:
        return Pseudonymiser(load_key(create=False))
    except PiiKeyError:
        if feed.key in feed.pii_columns:
            raise
        return Pseudonymiser(os.urandom(32))


def render(report: dict) -> str:
    """The verdict in the words of the ingest mails."""
    failed = [c for c in report["checks"] if not c["success"] and c.get("action") != "warn"]
    warned = [c for c in report["checks"] if not c["success"] and c.get("action") == "warn"]
    verdict = (
        "QUARANTINE"
        if not report["success"]
        else ("PUBLISH with warnings" if warned else "PUBLISH")
    )
    lines = [
        f"{report['feed']} batch {report['day']}: {verdict} ({report['row_count']:,} rows; "
        f"history: {report.get('history_partitions', 0)} published day(s), profile "
        f"v{report.get('profile_version') or '-'})",
        *[f"  {c}" for c in report.get("causes", [])],
    ]
    for title, checks in (("failed", failed), ("warned", warned)):
        if checks:
            lines.append(f"checks that {title}:")
            lines += [f"  - {c['name']} {c.get('message') or ''}".rstrip() for c in checks]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.quality", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("check", help="the verdict ingest would give a file")
    cmd.add_argument("feed")
    cmd.add_argument("files", nargs="+", type=Path)
    cmd.add_argument("--day", help="the batch's day (default: the file's folder name)")
    cmd.add_argument("--usecase", help="the use case (with several; default: the first)")
    cmd.add_argument("--docs", type=Path, help="keep the Data Docs in this folder")
    cmd.add_argument("--json", action="store_true", help="print the validation report JSON")
    args = parser.parse_args(argv)
    if args.usecase:
        activate(args.usecase)
    try:
        day = _day(args.files, args.day)
        spec = load_spec(get_settings().usecase_spec)
        if args.feed not in spec.feeds:
            raise ValueError(f"no feed {args.feed!r} in {spec.path}: {', '.join(spec.feeds)}")
        missing = [str(p) for p in args.files if not p.is_file()]
        if missing:
            raise ValueError(f"no such file: {', '.join(missing)}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = check(args.feed, args.files, day, args.docs)
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report))
    return 0 if report["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
