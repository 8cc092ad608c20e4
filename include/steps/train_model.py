"""The ``train_model`` DAG's steps, one function per task; references in, references out.

1. :func:`build_training_set`: labelled transactions of the window (validated transactions
   inner-joined with matured labels) → Feast ``get_historical_features`` through the feature
   service (one row per entity row, no future feature: ``include.features.training_set``) →
   one Parquet file per run under ``<lake>/training_sets/``, plus the lineage (partitions,
   feature service, validation result ids, git commit, DAG run id).
2. :func:`train`: :func:`include.training.train.train_candidates` on that file.
3. :func:`gate`: :func:`include.registry.evaluate_and_promote`; a rejection returns its
   result (the champion is untouched) for the DAG to mail, it does not fail the run.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
from datetime import date, timedelta
from typing import Any

from include import layout, storage
from include.config import REPO_ROOT, get_settings
from include.data import lake, sample
from include.spec import UseCaseSpec, load_spec

log = logging.getLogger(__name__)


class TrainingWindowEmpty(ValueError):
    """Too few matured labelled transactions in the window to train on (yet)."""


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _validation_ids(lake_uri: str, feed: str, days: list[date]) -> list[str]:
    """The newest validation result per partition: ``<feed>/<day>/<run>``."""
    ids = []
    for day in days:
        reports = storage.list_objects(layout.validation_reports_dir(lake_uri, feed, day))
        runs = sorted({o.uri.rsplit("/", 2)[-2] for o in reports if o.name.endswith(".json")})
        if runs:
            ids.append(f"{feed}/{day.isoformat()}/{runs[-1]}")
    return ids


def ready_through(event_extras: list[dict[str, Any]]) -> str | None:
    """The newest partition the triggering ``features`` events say is materialized (None for
    a run without events: a manual run, which takes what has features now)."""
    named = [p for extra in event_extras for p in (extra or {}).get("partitions", []) if p]
    return max(named) if named else None


def training_days(
    published: list[date], featured: list[date], window_days: int, end: date | None
) -> list[date]:
    """The window's days: published *and* with feature tables, up to ``end``.

    A partition published while this run was starting has no features yet; taking it would
    drop its rows in the point-in-time join (``FeatureRowsDropped``).
    """
    ready = sorted(set(published) & set(featured))
    if end is not None:
        ready = [d for d in ready if d <= end]
    if not ready:
        return []
    return [d for d in ready if d > ready[-1] - timedelta(days=window_days)]


def catch_up_pending(
    landed: dict[str, list[date]],
    done: dict[str, list[date]],
    quarantined: dict[str, list[date]],
    *,
    start: date,
    today: date,
) -> dict[str, list[date]]:
    """Per feed, the landed days an ingest still owes: newer than the feed's newest finished
    day (``done``: with features for the events, published for the labels), not
    quarantined, from ``start`` (the ingest start date) to before ``today`` (a day is
    ingested once it has ended).

    Non-empty while a first start or a restart after downtime catches up: a model trained
    now would see part of the data and be replaced, or rejected, by the next day's run. A
    day that failed or was quarantined and has a newer finished day after it holds nothing
    up: the catch-up went past it.
    """
    out: dict[str, list[date]] = {}
    for feed, days in landed.items():
        finished = set(done.get(feed, ())) | set(quarantined.get(feed, ()))
        newest = max(done.get(feed) or [date.min])
        owed = [d for d in days if start <= d < today and d > newest and d not in finished]
        if owed:
            out[feed] = owed
    return out


def _catch_up_pending(spec: UseCaseSpec, featured: list[date]) -> dict[str, list[date]]:
    from datetime import UTC, datetime

    from include.data import batches

    settings = get_settings()
    names = spec.names
    feeds = (names.events_feed, names.labels_feed)
    return catch_up_pending(
        {f: batches.landed_days(settings.landing_uri, f) for f in feeds},
        {
            names.events_feed: featured,
            names.labels_feed: lake.partitions(settings.lake_uri, names.labels_feed),
        },
        {f: lake.quarantined_days(settings.lake_uri, f) for f in feeds},
        start=date.fromisoformat(settings.ingest_start_date),
        today=datetime.now(UTC).date(),
    )


def _days(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def _owed(owed: dict[str, list[date]], events_feed: str, published: set[date]) -> str:
    """What the catch-up still owes, in words: a landed day not validated yet, or a published
    events day whose features the next ``materialize_features`` run computes (B12)."""
    parts = []
    for feed, days in owed.items():
        unfeatured = [d for d in days if feed == events_feed and d in published]
        if waiting := [d for d in days if d not in unfeatured]:
            parts.append(f"{feed} {_days(waiting)} landed, not yet ingested")
        if unfeatured:
            parts.append(
                f"{feed} {_days(unfeatured)} published, features not computed yet "
                "(materialize_features computes them on its next run)"
            )
    return "; ".join(parts) + "; the run after the last of them trains"


def build_training_set(
    window_days: int,
    run_id: str,
    end: str | None = None,
    *,
    announced: str | None = None,
    wait_for_catch_up: bool = False,
    only_if_new: bool = False,
) -> dict[str, Any]:
    """Write the run's training set; returns its URI, size and lineage.

    The window is every partition that is published *and* has feature tables
    (:func:`training_days`), up to ``end`` if given (a manual run's ``end_date``).
    ``announced``: the newest partition the triggering ``features`` events named
    (:func:`ready_through`), kept in the lineage; it never exceeds what has features.
    ``wait_for_catch_up`` (a run new features triggered): while the ingest still owes landed
    days (:func:`catch_up_pending`), :class:`TrainingWindowEmpty`: the run for the last of
    them trains, once, on all of them. ``only_if_new`` (an :func:`automatic` run): when the
    newest judged version saw every labelled row of the window (:func:`nothing_new`),
    :class:`TrainingSetUnchanged`, before the point-in-time join is paid for.
    """
    import pandas as pd

    from include.features import schema, tables
    from include.features.training_set import entity_columns, historical_features

    settings = get_settings()
    spec = load_spec(settings.usecase_spec)
    fspec = schema.feature_spec(spec)
    model, names = spec.model, spec.names
    target, key, event_ts = names.target, names.tx_key, names.event_ts
    until = date.fromisoformat(end) if end else None
    published = lake.partitions(settings.lake_uri, names.events_feed)
    featured = sorted(
        set.intersection(
            *(set(tables.existing_partitions(settings.features_uri, v.name)) for v in fspec.views)
        )
    )
    if wait_for_catch_up and (owed := _catch_up_pending(spec, featured)):
        raise TrainingWindowEmpty("catching up: " + _owed(owed, names.events_feed, set(published)))
    days = training_days(published, featured, window_days, until)
    if not days:
        raise TrainingWindowEmpty(
            f"no validated transaction partition with features{f' up to {end}' if end else ''} "
            "yet: ingest and materialize first"
        )
    label_days = [
        d
        for d in lake.partitions(settings.lake_uri, names.labels_feed)
        if until is None or d <= until
    ]
    if not label_days:
        raise TrainingWindowEmpty("no validated label partition yet: labels arrive days later")
    sensitive = [a for f in spec.feeds.values() for a in f.sensitive_attributes]
    columns = list(dict.fromkeys([*entity_columns(fspec), *sensitive]))
    # Only matured events: before an event is `maturity_days` old only a positive outcome
    # can have arrived, so a younger window would over-represent the positive class.
    maturity = spec.labels.maturity_days
    cutoff = pd.Timestamp(max(label_days) + timedelta(days=1 - maturity), tz="UTC")
    # Beyond model.max_training_rows, a uniform sample by event key hash, taken from each
    # partition as it is read: the window is never held whole.
    # Its rate comes from the footers of the partitions whose events all matured (a
    # partition holds its day's events and late ones, never later ones).
    matured_rows = sum(
        lake.partition_rows(settings.lake_uri, names.events_feed, d) or 0
        for d in days
        if d < cutoff.date()
    )
    rate = sample.rate_for(matured_rows, model.max_training_rows)

    def matured(d: date) -> pd.DataFrame:
        frame = lake.read_partition(settings.lake_uri, names.events_feed, d, columns)
        return sample.keep(frame[frame[event_ts] < cutoff], key, rate)

    def labelled(d: date, events: pd.Series) -> pd.DataFrame:
        # Every label partition is read (a label may come long after its event): only the
        # labels of the events kept are held, however long the platform's history.
        frame = lake.read_partition(settings.lake_uri, names.labels_feed, d, [key, target])
        return frame[frame[key].isin(events)]

    tx = pd.concat([matured(d) for d in days], ignore_index=True)
    labels = pd.concat(
        [labelled(d, tx[key]) for d in label_days] or [pd.DataFrame(columns=[key, target])],
        ignore_index=True,
    ).drop_duplicates(key, keep="last")
    entity = tx.merge(labels, on=key, how="inner")
    del tx, labels
    entity[target] = model.positives(entity[target])  # 0/1 from here on
    sampled = sample.Sampling(rate, len(entity)).describe("matured labelled events", key)
    if rate < 1.0:
        log.info(
            "training set sampled (model.max_training_rows %s): %s",
            f"{model.max_training_rows:,}",
            sampled,
        )
    positives = int(entity[target].sum()) if len(entity) else 0
    min_rows, min_pos = model.min_training_rows, model.min_positives
    if len(entity) < min_rows or positives < min_pos or positives == len(entity):
        raise TrainingWindowEmpty(
            f"{len(entity)} matured labelled events ({positives} positive) in "
            f"{days[0]}..{days[-1]}; training needs {min_rows} rows with {min_pos} fraud and "
            "both classes. Negative events are labelled after the spec's maturity_days."
        )
    if only_if_new:
        from include.registry.read import champion

        tracking_uri = settings.mlflow_tracking_uri
        current = champion(spec, tracking_uri)
        if why := nothing_new(entity, spec, tracking_uri, current):
            raise TrainingSetUnchanged(why)
    for view in fspec.views:
        key_values = entity[view.join_key]
        entity[view.join_key] = (
            key_values.astype("int64") if view.key_type == "int" else key_values.astype(str)
        )
    frame = historical_features(entity.sort_values(event_ts, ignore_index=True))
    features = schema.model_features(fspec)
    _check_splittable(frame, features, spec)
    uri = layout.training_set_uri(settings.lake_uri, run_id)
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))
    lineage = {
        "data_partitions": f"{names.events_feed}:{days[0]}..{days[-1]}",
        "label_partitions": f"{names.labels_feed}:{min(label_days)}..{max(label_days)}",
        "feature_service": fspec.feature_service,
        "validation_result_ids": ",".join(
            _validation_ids(settings.lake_uri, names.events_feed, days)
        )[:4000],
        "git_commit": _git_commit(),
        "features_event_through": announced or "-",
        "sampled": sampled,
        "sampling_rate": repr(rate),  # exact: nothing_new samples a later window at it
        "dag_run_id": run_id,
        "training_set_uri": uri,
    }
    return {
        "uri": uri,
        "rows": len(frame),
        "positives": int(frame[target].sum()),
        "features": features,
        "lineage": lineage,
    }


def _check_splittable(frame: Any, features: list[str], spec: UseCaseSpec) -> None:
    """Each part of the time split needs both classes; fraud clusters in time (nights,
    bursts), so a young window may not have them yet: wait for more data, do not fail."""
    from include.training.errors import TrainingDataInvalid
    from include.training.split import Columns, time_split

    columns = Columns.of(spec, features)
    try:
        parts = time_split(frame, columns, spec.model.split)
    except TrainingDataInvalid as exc:
        raise TrainingWindowEmpty(f"the labelled window cannot be split yet: {exc}") from exc
    for name, part in zip(
        ("train", "validation", "holdout"),
        (parts.train, parts.validation, parts.holdout),
        strict=True,
    ):
        if part[columns.target].sum() < 5:
            raise TrainingWindowEmpty(
                f"the {name} part has {int(part[columns.target].sum())} positive rows; "
                "waiting for more matured labels"
            )


def already_announced(previous: list[dict[str, Any]], result: dict[str, Any]) -> bool:
    """Whether a ``champion_model`` event for this model version exists already."""
    return any(
        (e or {}).get("model") == result["model"]
        and str((e or {}).get("version")) == str(result["version"])
        for e in previous
    )


class TrainingSetUnchanged(ValueError):
    """The training set is the one the champion was trained on, or (an automatic run) holds
    no labelled event the newest judged version did not see: retraining would only produce
    a copy of it (or a coin-flip rejection), so the run is skipped."""


def automatic(events: list[Any], params: dict[str, Any]) -> bool:
    """Whether new features started the run (its triggering ``features`` events), not a
    person's run with Params nor a retrain monitoring asked for (``reason``)."""
    return bool(events) and not params.get("reason") and not params.get("end_date")


def nothing_new(frame: Any, spec: UseCaseSpec, tracking_uri: str, current: Any) -> str | None:
    """Why an automatic run has nothing to learn, or None.

    Nothing is new when the newest version the gate judged (:func:`newest_judged`) was
    trained on every labelled event of ``frame`` with the same label, and judged against
    the current champion (``current``, or none). A day's transactions arrive before their
    labels, so the features they trigger add no matured labelled row: without this every
    day would train twice, the second time on the same data or on a day less, and a
    rejected candidate would be trained again and rejected again. Where the judged
    version's training set can no longer be read, the run trains.

    A capped window (``model.max_training_rows``) is compared at the judged version's
    sampling rate (``lineage.sampling_rate``): when the window lost its oldest day, the
    rate rises and the sample takes keys the judged one left out by design, not news. The
    same rows at the rate it had are the rows it saw; a new matured day still shows."""
    import pandas as pd

    from include.registry.read import newest_judged

    judged = newest_judged(spec, tracking_uri)
    if judged is None or not judged.training_set_uri:
        return None
    champion_now = current.version if current is not None else "none"
    if judged.version != champion_now and judged.tags.get("gate.compared_with") != champion_now:
        return None  # the champion changed since: judging against it again is news
    key, target = spec.names.tx_key, spec.names.target
    try:
        seen = pd.read_parquet(
            io.BytesIO(storage.read_bytes(judged.training_set_uri)), columns=[key, target]
        )
    except (FileNotFoundError, OSError, KeyError, ValueError):
        return None
    now = frame[[key, target]]
    try:
        judged_rate = float(judged.tags.get("lineage.sampling_rate") or 1.0)
    except ValueError:
        return None
    now = sample.keep(now, key, judged_rate)
    fresh = now.merge(seen.drop_duplicates(), on=[key, target], how="left", indicator=True)
    if (fresh["_merge"] == "left_only").any():
        return None
    decision = judged.tags.get("gate.decision", "judged").replace("_", " ")
    if judged.version == champion_now:
        status = f"{decision}, the champion"
    elif champion_now == "none":
        status = f"{decision}, no champion yet"
    else:
        status = f"{decision} against champion v{champion_now}"
    at = f" (sampled at its rate, {judged_rate:.4g})" if judged_rate < 1.0 else ""
    return (
        f"nothing new to learn: each of the {len(now)} labelled events{at} is in the "
        f"training set of v{judged.version} ({status}) with the same label; the next matured "
        "labels train"
    )


def train(
    training_set: dict[str, Any],
    *,
    families: list[str] | None,
    tuning_budget: int | None,
    spec: Any = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Train the candidates on the run's training set, unless the champion was trained on
    exactly this data (same digest of the same split): then :class:`TrainingSetUnchanged`."""
    import pandas as pd

    from include.registry.read import champion
    from include.training.train import train_candidates, training_digest

    spec = spec or load_spec()
    tracking_uri = tracking_uri or get_settings().mlflow_tracking_uri
    frame = pd.read_parquet(io.BytesIO(storage.read_bytes(training_set["uri"])))
    digest = training_digest(frame, training_set["features"], spec)
    current = champion(spec, tracking_uri)
    if current is not None and current.data_sha256 == digest:
        raise TrainingSetUnchanged(
            f"the training set ({training_set['uri']}, sha256 {digest[:12]}) is the one "
            f"champion v{current.version} was trained on: nothing new to learn; skipped"
        )
    return train_candidates(
        frame,
        training_set["features"],
        training_set["lineage"],
        spec=spec,
        tracking_uri=tracking_uri,
        families=families or None,
        tuning_budget=tuning_budget,
    )


def gate(training: dict[str, Any], reason: str = "") -> dict[str, Any]:
    """Register the best candidate as challenger; promote it only if it wins the gate (and,
    where the spec's ``model.approval`` asks for it, only once a person approved: then the
    decision is ``awaiting_approval``). The comparison HTML is copied into the lake
    (``lake_report_uri``) for the console."""
    from include.registry import evaluate_and_promote

    settings = get_settings()
    result = evaluate_and_promote(
        training,
        tracking_uri=settings.mlflow_tracking_uri,
        lock_dir=settings.data_root / "locks",
        raise_on_reject=False,
        reason=reason,
    )
    return {**result, "lake_report_uri": copy_comparison(result, settings.lake_uri)}


def copy_comparison(result: dict[str, Any], lake_uri: str) -> str:
    """Write the gate's comparison HTML to ``<lake>/reports/promotion/<model>/v<N>/``."""
    from include.registry.report import render_html

    uri = layout.promotion_report_uri(lake_uri, result["model"], result["version"])
    storage.write_bytes(uri, render_html(result["comparison"]).encode())
    return uri


def route(result: dict[str, Any]) -> str:
    """The task after the gate: publish, ask a person, or report the rejection."""
    if result.get("decision") == "awaiting_approval":
        return "request_approval"
    return "publish_champion" if result["promoted"] else "report_rejection"


def _links() -> Any:
    """The console's link builders (``include.console.links``), imported when needed."""
    from include.console import links

    return links


def request_approval(result: dict[str, Any], dag_id: str, run_id: str, task_id: str) -> dict:
    """Mail that a promotion waits for approval (linking the approval task ``task_id``) and
    return the request's subject and Markdown body for the approval task."""
    from include.notify import send_alert
    from include.registry.approval import approval_markdown, champion_label
    from include.registry.approval_mail import approval_requested

    links = _links()
    report_link = (
        links.report_url(result["lake_report_uri"]) if result.get("lake_report_uri") else None
    )
    approve_url = links.task_url(dag_id, run_id, task_id)
    # Once per version: a retried task (Airflow runs tasks at least once) mails no second time.
    marker = layout.approval_request_uri(
        get_settings().lake_uri, result["model"], result["version"]
    )
    if storage.exists(marker):
        print(f"approval mail for v{result['version']} was sent already ({marker})")
    else:
        send_alert(approval_requested(result, approve_url=approve_url, report_link=report_link))
        storage.write_bytes(marker, json.dumps({"url": approve_url, "run_id": run_id}).encode())
    subject = (
        f"Promote {result['model']} v{result['version']} to champion ({champion_label(result)})?"
    )
    return {"subject": subject, "body": approval_markdown(result, report_link), "url": approve_url}


def promote_approved(result: dict[str, Any], answer_payload: dict[str, Any] | None) -> dict:
    """An approved version becomes champion (the approval task skips this on Reject)."""
    from include.registry.approval import approve, parse_answer

    answer = parse_answer(answer_payload)
    if answer is None or answer.decision != "approved":
        raise ValueError(f"no approval to act on: {answer_payload!r}")
    settings = get_settings()
    return approve(
        result,
        answer,
        tracking_uri=settings.mlflow_tracking_uri,
        lock_dir=settings.data_root / "locks",
    )


def record_approval(
    result: dict[str, Any], answer_payload: dict[str, Any] | None, run_id: str
) -> dict[str, Any] | None:
    """Record the answer (tags on the version, a lake record); None when nobody was asked."""
    from include.registry.approval import parse_answer, record_decision

    answer = parse_answer(answer_payload)
    if answer is None:
        return None
    settings = get_settings()
    return record_decision(
        result,
        answer,
        lake_uri=settings.lake_uri,
        run_id=run_id,
        tracking_uri=settings.mlflow_tracking_uri,
    )
