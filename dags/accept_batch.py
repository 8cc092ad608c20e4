"""
### Accept a quarantined batch as the new normal

By hand only (Trigger DAG w/ config): `feed` and `day` (and optionally the quarantined
`run`; default: the newest). When a batch was quarantined because it differs from the feed's
history, and the change is real (a new market, a price change):

1. **find_quarantined** reads its causes and evidence; a batch that breaks the spec's own
   rules (schema, types, ranges, a cut file) can not be accepted: fix the data or the spec.
2. **review** waits in *Required actions* for **Approve** or **Reject**, with a comment.
3. **record_decision** records who, when and why next to the quarantined batch; on Approve
   it puts the raw files back in the landing zone and marks exactly these files accepted.
4. **ingest_accepted** runs the feed's ingest for the day: the batch is published (its
   history checks only warn, naming the acceptance) and the feed's profile moves.

Nothing else turns a quarantine into a publication. Part of airflow-mlops. Code:
`include/quality/acceptance.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import default_args
from include.orchestration.assets import assets_of
from include.orchestration.usecases import build_per_usecase, usecase_tags

REVIEW_HOURS = 72


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)
    feeds = [assets.events_feed, assets.labels_feed]

    @airflow_dag(
        dag_id=usecase.qualify("accept_batch"),
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(usecase),
        tags=["ingest", "data-quality", "governance", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "feed": Param(feeds[0], enum=feeds, description="The quarantined batch's feed."),
            "day": Param(type="string", format="date", description="Its day (YYYY-MM-DD)."),
            "run": Param("", type="string", description="The quarantined run; empty = the newest."),
        },
        render_template_as_native_obj=False,
    )
    def accept_batch() -> None:
        # A refusal (spec rules broken, accepted already) is deterministic: no retries.
        @task(retries=0)
        def find_quarantined(params: dict[str, Any] | None = None) -> dict:
            from include.steps.accept_batch import find

            p = params or {}
            return find(str(p["feed"]), str(p["day"])[:10], str(p.get("run") or "") or None)

        # The HITL operator of approvals, without the ApprovalOperator's skipping: a Reject
        # reaches record_decision too (recorded, nothing published).
        review = HITLOperator(
            task_id="review",
            options=[ApprovalOperator.APPROVE, ApprovalOperator.REJECT],
            subject="{{ ti.xcom_pull(task_ids='find_quarantined')['subject'] }}",
            body="{{ ti.xcom_pull(task_ids='find_quarantined')['body'] }}",
            # A plain timedelta (msgpack refuses pendulum's Duration); no answer: it fails,
            # and the batch stays in quarantine.
            response_timeout=timedelta(hours=REVIEW_HOURS),
            params={
                "comment": Param(
                    "", type="string", description="Why this is the new normal (recorded)."
                )
            },
        )

        @task
        def record_decision(found: dict, **context: Any) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.steps.accept_batch import decide

            ti = context["ti"]
            decision = decide(found, ti.xcom_pull(task_ids="review"), ti.run_id)
            if decision["decision"] != "accepted":
                raise AirflowSkipException(f"kept in quarantine by {decision['by'] or 'nobody'}")
            return decision

        ingest_accepted = TriggerDagRunOperator(
            task_id="ingest_accepted",
            trigger_dag_id=usecase.qualify("ingest_") + "{{ params.feed }}",
            conf={"batch_date": "{{ params.day }}"},
            wait_for_completion=False,
        )

        found = find_quarantined()
        decided = record_decision(found)
        found >> review >> decided >> ingest_accepted

    return accept_batch()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
