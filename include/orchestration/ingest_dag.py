"""The ingest DAG shape, shared by every feed (transactions, labels).

    wait_for_batch → validate_batch ─┬→ publish_partition  (Asset event; a history warning
                     (branches)      │   mails once)
                                     └→ quarantine_batch   (fails: one alert)

Three tasks a day: each task costs a process and a scheduling round trip, which for a
10k-row day were most of a run's time (issue 20). The sensor resolves the day; validation
chooses the branch itself and hands its summary on under the XCom key ``summary``.
Each task calls one function of ``include.steps.ingest``; heavy imports happen inside.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    DAG,
    Asset,
    CronDataIntervalTimetable,
    Metadata,
    Param,
    PokeReturnValue,
    dag,
    task,
)

from include.config import UseCase, get_settings
from include.orchestration.alerts import default_args
from include.orchestration.usecases import usecase_tags

SUMMARY = "summary"  # the XCom key of validate_batch's summary


def build_ingest_dag(
    *, usecase: UseCase, dag_id: str, feed: str, asset: Asset, doc_md: str | None
) -> DAG:
    """The ingest DAG of ``usecase``'s ``feed`` (``dag_id`` qualified with the use case)."""
    settings = get_settings(usecase.name)

    @dag(
        dag_id=usecase.qualify(dag_id),
        # Interval timetable: the run of [D, D+1) starts after D ends and ingests day D.
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=pendulum.parse(settings.ingest_start_date, tz="UTC"),
        # Off by default (runs start at the latest day); MLOPS_INGEST_CATCHUP=true runs every
        # day since MLOPS_INGEST_START_DATE (what `make run` does over the days it landed).
        # Either way `airflow backfill create` fills a chosen range.
        catchup=settings.ingest_catchup,
        max_active_runs=1,  # the re-delivery check compares with neighbouring partitions
        default_args=default_args(usecase),
        tags=["ingest", "data-quality", feed, *usecase_tags(usecase)],
        doc_md=doc_md,
        params={
            "batch_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description="Day to ingest (YYYY-MM-DD); empty = the run's data interval.",
            )
        },
        render_template_as_native_obj=False,
    )
    def ingest() -> None:
        @task.sensor(poke_interval=300, timeout=timedelta(hours=12), mode="reschedule")
        def wait_for_batch(params: dict[str, Any] | None = None, **context: Any) -> PokeReturnValue:
            from include.quality.errors import BatchNotLanded
            from include.steps.ingest import batch_day, find_batch

            day = batch_day((params or {}).get("batch_date"), context.get("data_interval_start"))
            try:
                files = find_batch(feed, day)
            except BatchNotLanded as exc:
                print(f"waiting: {exc}")
                return PokeReturnValue(is_done=False)
            return PokeReturnValue(is_done=True, xcom_value={"day": day, "files": files})

        @task.branch
        def validate_batch(batch: dict[str, Any], **context: Any) -> str:
            from include.orchestration.evidence import push_evidence
            from include.steps.ingest import validate

            summary = validate(feed, batch["day"], context["run_id"])
            push_evidence(summary.get("data_docs_uri"), context=context)  # "Evidence" link
            context["ti"].xcom_push(key=SUMMARY, value=summary)
            return "publish_partition" if summary["success"] else "quarantine_batch"

        @task(outlets=[asset])
        def publish_partition(summary: dict[str, Any], **context: Any):  # noqa: ANN202
            from include.orchestration.alerts import task_context
            from include.steps.ingest import publish, warn

            extra = publish(summary)
            # History checks that only warn: published, and one mail says what changed.
            warn(summary, task_context(context))
            if extra["unchanged"]:
                from airflow.sdk.exceptions import AirflowSkipException

                # Skipped, not succeeded: a skipped task emits no Asset event.
                raise AirflowSkipException(f"{extra['uri']} is unchanged: nothing to announce")
            yield Metadata(asset, extra)
            return extra

        @task
        def quarantine_batch(summary: dict[str, Any], **context: Any) -> None:
            from airflow.sdk.exceptions import AirflowFailException

            from include.orchestration.evidence import push_evidence
            from include.quality.errors import BatchValidationFailed
            from include.steps.ingest import quarantine

            try:
                quarantine(summary)
            except BatchValidationFailed as exc:
                # The quarantined batch's Data Docs (the failed checks), else its folder.
                found = exc.summary.get("data_docs_uri") or exc.summary.get("evidence_uri")
                push_evidence(found, context=context)
                # Fail now, without retries: the data is wrong, not the infrastructure.
                raise AirflowFailException(str(exc)) from exc

        validated = validate_batch(wait_for_batch())
        summary = validated[SUMMARY]  # the summary validate_batch pushed, not its branch
        validated >> [publish_partition(summary), quarantine_batch(summary)]

    return ingest()
