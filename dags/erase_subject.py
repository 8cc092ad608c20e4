"""
### Erase a data subject (right to erasure)

By hand only (Trigger DAG w/ config): `subject_id`, the person's raw id as the source
systems write it (a value of a pii column of the events feed), optionally `column` (one
pii column; empty = every one), and `reason` (the request or ticket).

1. **pseudonymise_subject** turns the id into its pseudonym under the platform's key; no
   later task, log line or XCom sees the raw id.
2. **find_subject_events** finds the subject's events (lake, staging, landing, quarantine)
   and keeps them as keyed hashes, so a later run still finds their labels.
3. **erase_lake**, **erase_features**, **erase_online_store**, **erase_outputs**,
   **erase_training_sets**, **erase_raw_files** remove the subject's rows: validated and
   staged partitions (labels of their events too), offline feature tables, the online
   store's entity, batch predictions and captured requests, training sets, landing and
   quarantined raw files. A file is rewritten only when it holds such a row: a re-run is
   a no-op.
4. **record_erasure** writes `<lake>/privacy/erasures/<pseudonym>/<time>.json`: who asked,
   when, why, rows removed per location, and what it could not reach (models trained on
   the rows, monitoring snapshots, quarantine evidence, backups, this run's conf).

Airflow keeps the run's conf (with the raw id): delete the run once the record is filed.
Part of airflow-mlops. Code: `include/privacy/erasure.py`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import default_args
from include.orchestration.usecases import build_per_usecase, usecase_tags

SUBJECT = "subject_id"


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    from include.spec import load_spec

    pii = list(load_spec(usecase.spec).events_feed.pii_columns)

    @airflow_dag(
        dag_id=usecase.qualify("erase_subject"),
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        # Two erasures rewriting the same files at once would each put back the other's rows.
        max_active_runs=1,
        default_args=default_args(usecase),
        tags=["privacy", "governance", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            SUBJECT: Param(
                type="string", minLength=1, description="The person's raw id (never logged)."
            ),
            "column": Param("", enum=["", *pii], description="One pii column; empty = all."),
            "reason": Param(type="string", minLength=3, description="Request or ticket."),
        },
    )
    def erase_subject() -> None:
        @task(retries=0)  # a refusal (no pii column, no key) repeats on every try
        def pseudonymise_subject(params: dict[str, Any] | None = None, **context: Any) -> dict:
            from airflow.sdk.log import mask_secret

            from include.steps.erase_subject import pseudonymise

            params = params or {}
            raw = str(params.get(SUBJECT) or "")
            mask_secret(raw)  # whatever echoes it by mistake in this task's log shows ***
            run = context["dag_run"]
            requested = {
                "dag_id": run.dag_id,
                "run_id": run.run_id,
                "run_type": str(getattr(run.run_type, "value", run.run_type)),
                "conf": {k: v for k, v in (run.conf or {}).items() if k != SUBJECT},
            }
            by = str(getattr(run, "triggering_user_name", None) or "")
            column, reason = str(params.get("column") or ""), str(params.get("reason") or "")
            return pseudonymise(raw, column, reason, by, requested)

        @task
        def find_subject_events(subject: dict) -> dict:
            from include.steps.erase_subject import find_events

            return find_events(subject)

        def erase(store: str):  # noqa: ANN202 (a task erasing one kind of store)
            @task(task_id=f"erase_{store}")
            def erase_store(subject: dict) -> dict:
                from include.steps import erase_subject as steps

                return getattr(steps, f"erase_{store}")(subject)

            return erase_store

        @task
        def record_erasure(subject: dict, events: dict, results: dict) -> dict:
            from include.steps.erase_subject import record

            return record(subject, events, results)

        subject = pseudonymise_subject()
        events = find_subject_events(subject)
        stores = ("lake", "features", "online_store", "outputs", "training_sets", "raw_files")
        results = {s: erase(s)(subject) for s in stores}
        # Every store is erased with the subject's events known (kept by find_subject_events).
        events >> list(results.values())
        record_erasure(subject, events, results)

    return erase_subject()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test(run_conf={SUBJECT: "example-id", "reason": "example request"})
