"""Every storage location of the platform, in one place.

    <landing>/<feed>/<YYYY-MM-DD>/*.csv                          raw batches (the simulator, a feed)
    <lake>/validated/<feed>/date=<YYYY-MM-DD>/data.parquet       one file per partition
    <lake>/staging/<feed>/<YYYY-MM-DD>/<run>.parquet             validated, not yet published
    <lake>/quarantine/<feed>/<YYYY-MM-DD>/<run>/                 raw files + evidence
    <lake>/profiles/<feed>/partitions/<YYYY-MM-DD>.json          one published batch's profile
    <lake>/profiles/<feed>/v<version>.json                       the feed's normal (versioned)
    <lake>/reports/validation/<feed>/<YYYY-MM-DD>/<run>/         validation result + Data Docs
    <lake>/training_sets/<run>.parquet                           one per training run
    <lake>/predictions/date=<YYYY-MM-DD>/                        scored requests (serving)
    <lake>/capture/date=<YYYY-MM-DD>/part-*.jsonl                requests served online
    <lake>/reports/drift/<first>_<last>/                         monitoring reports + summary
    <lake>/reports/promotion/<model>/v<version>/comparison.html  the gate's side-by-side report
    <lake>/registry/approvals/<model>/v<version>.json            a person's promotion decision
    <lake>/monitoring/runs/<run>.json, history.csv               one row per monitoring run
    <features>/<view>/date=<YYYY-MM-DD>/data.parquet             offline feature tables

Each root (``landing_uri``, ``lake_uri``, ``features_uri``: settings) is a local path or an
``s3://`` URI; every function here returns a location of the same kind, built with
:func:`include.storage.join`, which refuses segments that climb out (fault model E5). No
other module puts a path together: a stage asks here.
"""

from __future__ import annotations

import re
from datetime import date

from include import storage

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def run_slug(run_id: str) -> str:
    """A run id as one safe path segment (run ids hold ':' and '+'; never '..')."""
    slug = _UNSAFE.sub("_", run_id).strip("._") or "run"
    return slug[:120]


def _day(day: date) -> str:
    return day.isoformat()


# ------------------------------------------------------------------------------ landing
def landing_dir(landing_uri: str, feed: str, day: date) -> str:
    return storage.join(landing_uri, feed, _day(day))


# --------------------------------------------------------------------------------- lake
def validated_dir(lake_uri: str, feed: str) -> str:
    return storage.join(lake_uri, "validated", feed)


def partition_uri(lake_uri: str, feed: str, day: date) -> str:
    return storage.join(validated_dir(lake_uri, feed), f"date={_day(day)}", "data.parquet")


def partition_day(uri: str) -> str:
    """The ``YYYY-MM-DD`` of a partition file's location."""
    return uri.rstrip("/").split("/")[-2].removeprefix("date=")


def staging_uri(lake_uri: str, feed: str, day: date, run_id: str) -> str:
    return storage.join(lake_uri, "staging", feed, _day(day), f"{run_slug(run_id)}.parquet")


def quarantine_feed_dir(lake_uri: str, feed: str) -> str:
    """Every quarantined batch of one feed (one folder per day below)."""
    return storage.join(lake_uri, "quarantine", feed)


def quarantine_day_dir(lake_uri: str, feed: str, day: date) -> str:
    """Every quarantined batch of one feed and day (one folder per run below)."""
    return storage.join(quarantine_feed_dir(lake_uri, feed), _day(day))


def quarantine_dir(lake_uri: str, feed: str, day: date, run_id: str) -> str:
    return storage.join(quarantine_day_dir(lake_uri, feed, day), run_slug(run_id))


def profiles_dir(lake_uri: str, feed: str) -> str:
    """The feed's profiles: ``v<version>.json`` (the normal), ``partitions/<day>.json``."""
    return storage.join(lake_uri, "profiles", feed)


def profile_uri(lake_uri: str, feed: str, version: int) -> str:
    return storage.join(profiles_dir(lake_uri, feed), f"v{int(version)}.json")


def partition_profile_uri(lake_uri: str, feed: str, day: date) -> str:
    """The statistics of one published partition, written when it is published."""
    return storage.join(profiles_dir(lake_uri, feed), "partitions", f"{_day(day)}.json")


def acceptance_uri(lake_uri: str, feed: str, day: date, batch_digest: str) -> str:
    """A person's acceptance of one quarantined batch (its files' digest) as the new normal."""
    return storage.join(
        quarantine_day_dir(lake_uri, feed, day), f"accepted-{run_slug(batch_digest)}.json"
    )


def validation_reports_dir(lake_uri: str, feed: str, day: date) -> str:
    """Every validation run of one partition day (one folder per run below)."""
    return storage.join(lake_uri, "reports", "validation", feed, _day(day))


def report_dir(lake_uri: str, feed: str, day: date, run_id: str) -> str:
    """One validation run's result JSON and Data Docs."""
    return storage.join(validation_reports_dir(lake_uri, feed, day), run_slug(run_id))


def warning_marker_uri(lake_uri: str, feed: str, day: date, batch_digest: str) -> str:
    """Marks that the history warning of one delivered batch (its files' digest) was mailed."""
    return storage.join(
        validation_reports_dir(lake_uri, feed, day), f"warning-{run_slug(batch_digest)}.json"
    )


def training_set_uri(lake_uri: str, run_id: str) -> str:
    return storage.join(lake_uri, "training_sets", f"{run_slug(run_id)}.parquet")


def predictions_dir(lake_uri: str, day: date) -> str:
    """Batch scores of the validated transactions of ``day`` (one partition, replaced whole)."""
    return storage.join(lake_uri, "predictions", f"date={_day(day)}")


def predictions_uri(lake_uri: str, day: date) -> str:
    return storage.join(predictions_dir(lake_uri, day), "data.parquet")


def capture_dir(lake_uri: str, day: date) -> str:
    """Online requests served on ``day`` (UTC), as the service saw them: part files."""
    return storage.join(lake_uri, "capture", f"date={_day(day)}")


def drift_report_dir(lake_uri: str, first: date, last: date) -> str:
    """A monitoring window's report (stable per window: a re-run replaces it)."""
    return storage.join(lake_uri, "reports", "drift", f"{_day(first)}_{_day(last)}")


def monitoring_run_uri(lake_uri: str, run_id: str) -> str:
    """One monitoring run's row of the metrics history (a re-run of the run replaces it)."""
    return storage.join(lake_uri, "monitoring", "runs", f"{run_slug(run_id)}.json")


def monitoring_runs_dir(lake_uri: str) -> str:
    return storage.join(lake_uri, "monitoring", "runs")


def monitoring_history_uri(lake_uri: str) -> str:
    """The metrics history as one table (rebuilt from the run rows after every run)."""
    return storage.join(lake_uri, "monitoring", "history.csv")


def promotion_report_uri(lake_uri: str, model: str, version: str | int) -> str:
    """The gate's comparison of one version with the champion (HTML), served by the console."""
    return storage.join(
        lake_uri, "reports", "promotion", run_slug(model), f"v{int(version)}", "comparison.html"
    )


def approval_request_uri(lake_uri: str, model: str, version: str | int) -> str:
    """Marks that the "approval required" mail of one version went out (sent once)."""
    return storage.join(
        lake_uri, "registry", "approvals", run_slug(model), f"v{int(version)}.requested.json"
    )


def approval_record_uri(lake_uri: str, model: str, version: str | int) -> str:
    """The human decision on one version's promotion (approved / rejected, who, when, why)."""
    return storage.join(lake_uri, "registry", "approvals", run_slug(model), f"v{int(version)}.json")


def approval_records_dir(lake_uri: str, model: str) -> str:
    return storage.join(lake_uri, "registry", "approvals", run_slug(model))


# Inside a drift report folder (drift_report_dir).
MONITORING_SUMMARY = "summary.json"
MONITORING_INDEX = "index.html"


# Inside one validation run's folder (report_dir) or one quarantined batch (quarantine_dir).
VALIDATION_RESULT = "validation_result.json"
DATA_DOCS = "data_docs"
RAW_FILES = "raw"
QUARANTINE_SUMMARY = "quarantine.json"
DECISION = "decision.json"  # a person accepted the quarantined batch (who, when, why)


def evidence(folder: str, name: str, *more: str) -> str:
    """A file of an evidence folder, e.g. ``evidence(d, DATA_DOCS, "index.html")``."""
    return storage.join(folder, name, *more)


# ----------------------------------------------------------------------------- features
def feature_table_dir(features_uri: str, view: str) -> str:
    return storage.join(features_uri, view)


def feature_table_uri(features_uri: str, view: str, day: date) -> str:
    return storage.join(feature_table_dir(features_uri, view), f"date={_day(day)}", "data.parquet")


# Not a view (view names are identifiers): one small file per computed day, written after
# every view of the day, whose time says which lake partitions the tables have seen.
COMPUTED_DIR = "_computed"


def computed_marker_dir(features_uri: str) -> str:
    return storage.join(features_uri, COMPUTED_DIR)


def computed_marker_uri(features_uri: str, day: date) -> str:
    return storage.join(computed_marker_dir(features_uri), f"date={_day(day)}", "computed.json")
