"""
### Train, evaluate and promote the fraud model

Runs when the feature store is updated (the `features` Asset), by hand with the Params
below, or when monitoring triggers it with a `reason` in its conf.

1. **build_training_set** – matured labelled transactions of the window → Feast
   `get_historical_features` through the feature service (one row per entity row, no feature
   from the future) → one Parquet file per run, with its lineage;
2. **train_candidates** – XGBoost and a PyTorch MLP, each with a small seeded search, every
   candidate an MLflow run (params, PR-AUC/ROC-AUC/recall@FPR/calibration, plots, feature
   importance, signature, lineage tags);
3. **evaluate_and_promote** – the best candidate becomes version `challenger` of the
   registered model and replaces `champion` only if it beats it on the same holdout by the
   spec's margin, no age-band slice falls behind, and its single-row latency and size fit
   the serving budget (serialized: one promotion at a time); every version it judges gets
   its decision threshold, fixed on that holdout at the spec's target false-positive rate;
4. **publish_champion** (promoted: `champion_model` Asset event) or **report_rejection**
   (kept: one mail with the side-by-side comparison);
5. where the spec's `model.approval` asks a person (e.g. a retrain monitoring triggered, or a
   slice whose gap grew against the champion's), the gate leaves the champion alone and
   **request_approval** mails a link to **approve_promotion** (Airflow "Required actions":
   Approve / Reject, with the comparison); Approve → **promote_approved** →
   **publish_approved** (deployment follows); Reject, or no answer within
   `timeout_hours` (→ `on_timeout`), keeps the champion; **record_approval** records the
   decision on the version (`approval.*` tags) and in the lake.

Part of airflow-mlops. Code: `include/training/`, `include/registry/`; policy:
`usecase/fraud.yaml` (`model`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Metadata, Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import default_args
from include.orchestration.assets import assets_of
from include.orchestration.usecases import build_per_usecase, usecase_tags
from include.spec import CANDIDATE_FAMILIES, load_spec


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)
    # The approval task needs its timeout and default answer as arguments (cheap: YAML only).
    approval = load_spec(usecase.spec).model.approval

    @airflow_dag(
        dag_id=usecase.qualify("train_model"),
        schedule=[assets.features],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # promotions are serialized by a lock too; one run at a time is clearer
        default_args=default_args(usecase),
        tags=["training", "mlflow", "registry", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "training_window_days": Param(
                28,
                type="integer",
                minimum=1,
                maximum=365,
                description="Days of labelled events to train on.",
            ),
            "candidates": Param(
                [],
                type="array",
                items={"type": "string", "enum": list(CANDIDATE_FAMILIES)},
                description="Model families to train; empty = the spec's candidates.",
            ),
            "tuning_budget": Param(
                None,
                type=["null", "integer"],
                minimum=1,
                maximum=50,
                description="Configs per family; empty = the spec's budget.",
            ),
            "end_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description=(
                    "Last partition to train on (YYYY-MM-DD); empty = newest with features."
                ),
            ),
            "reason": Param("", type="string", description="Why (set by monitoring triggers)."),
        },
    )
    def train_model() -> None:
        @task
        def build_training_set(params: dict[str, Any] | None = None, **context: Any) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.steps.train_model import (
                TrainingSetUnchanged,
                TrainingWindowEmpty,
                automatic,
                ready_through,
            )
            from include.steps.train_model import build_training_set as build

            params = params or {}
            if params.get("reason"):
                print(f"retraining because: {params['reason']}")
            # The window holds only partitions whose features are materialized now (one published
            # meanwhile has none yet). The triggering events' newest partition is a lower bound
            # of that, not a limit: Airflow may attach fewer of the queued events to a run.
            events = (context.get("triggering_asset_events") or {}).get(assets.features, [])
            announced = ready_through([e.extra for e in events])
            print(f"triggering features events name partitions up to {announced or '-'}")
            try:
                return build(
                    int(params.get("training_window_days") or 28),
                    context["run_id"],
                    params.get("end_date") or None,
                    announced=announced,
                    # New features during a catch-up: train once, after the last landed day
                    # (a person's or monitoring's run trains on what is there now).
                    wait_for_catch_up=automatic(events, params),
                    # New features without new matured labels (a day's transactions): skip.
                    only_if_new=automatic(events, params),
                )
            except (TrainingWindowEmpty, TrainingSetUnchanged) as exc:  # not failures: no alert
                # Why, where the run's page (and make run's progress) can show it.
                context["ti"].xcom_push(key="skipped_because", value=str(exc))
                raise AirflowSkipException(str(exc)) from exc

        @task(execution_timeout=pendulum.duration(hours=2))
        def train_candidates(
            training_set: dict, params: dict[str, Any] | None = None, **context: Any
        ) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.steps.train_model import TrainingSetUnchanged, train

            params = params or {}
            try:
                return train(
                    training_set,
                    families=params.get("candidates"),
                    tuning_budget=params.get("tuning_budget"),
                )
            except TrainingSetUnchanged as exc:  # the champion's own data: skip, no mail
                context["ti"].xcom_push(key="skipped_because", value=str(exc))
                raise AirflowSkipException(str(exc)) from exc

        @task
        def evaluate_and_promote(training: dict, params: dict[str, Any] | None = None) -> dict:
            from include.steps.train_model import gate

            return gate(training, str((params or {}).get("reason") or ""))

        @task.branch
        def route_decision(result: dict) -> str:
            from include.steps.train_model import route

            return route(result)

        @task(outlets=[assets.champion_model], inlets=[assets.champion_model])
        def publish_champion(result: dict, *, inlet_events: Any = None):  # noqa: ANN202 (generator task)
            from airflow.sdk.exceptions import AirflowSkipException

            from include.steps.train_model import already_announced

            # Exactly one event per promotion: a retried or cleared run finds its own event.
            if already_announced([e.extra for e in inlet_events[assets.champion_model]], result):
                raise AirflowSkipException(f"v{result['version']} was announced already")
            extra = {k: result[k] for k in ("model", "version", "alias", "run_ids", "report_uri")}
            yield Metadata(assets.champion_model, extra)
            return extra

        @task
        def report_rejection(result: dict, **context: Any) -> str:
            from include.notify import send_alert
            from include.orchestration.alerts import rejection_alert
            from include.registry.alerts import claim_rejection_mail

            # The same cause (failed checks vs the same champion) is mailed once per cooldown;
            # a retrain monitoring asked for always reports (monitoring dedups its own triggers).
            reason = str((context.get("params") or {}).get("reason") or "")
            monitoring = reason.startswith("monitoring")
            if not claim_rejection_mail(result) and not monitoring:
                return (
                    f"champion v{result.get('champion_version')} kept; mail suppressed (cooldown)"
                )
            send_alert(rejection_alert(context, result))
            return f"champion v{result.get('champion_version')} kept: {result['reason']}"

        @task
        def request_approval(result: dict, **context: Any) -> dict:
            from include.steps.train_model import request_approval as ask

            ti = context["ti"]
            return ask(result, ti.dag_id, ti.run_id, "approve_promotion")

        approve_promotion = ApprovalOperator(
            task_id="approve_promotion",
            subject="{{ ti.xcom_pull(task_ids='request_approval')['subject'] }}",
            body="{{ ti.xcom_pull(task_ids='request_approval')['body'] }}",
            defaults=[approval.timeout_answer],
            # A plain timedelta: the task runner sends it to its supervisor with msgpack, which
            # refuses pendulum's Duration (the task then fails instead of awaiting input).
            response_timeout=timedelta(hours=approval.timeout_hours),
            params={"comment": Param("", type="string", description="Why (kept on the version).")},
        )

        @task
        def promote_approved(result: dict, **context: Any) -> dict:
            from include.steps.train_model import promote_approved as promote

            return promote(result, context["ti"].xcom_pull(task_ids="approve_promotion"))

        # Runs after Approve and after Reject (which skips promote_approved and what follows);
        # skips itself when nobody was asked.
        @task(trigger_rule="none_failed_min_one_success")
        def record_approval(result: dict, **context: Any) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.steps.train_model import record_approval as record

            ti = context["ti"]
            rec = record(result, ti.xcom_pull(task_ids="approve_promotion"), ti.run_id)
            if rec is None:
                raise AirflowSkipException("no approval was requested")
            return rec

        result = evaluate_and_promote(train_candidates(build_training_set()))
        asked = request_approval(result)
        route_decision(result) >> [publish_champion(result), report_rejection(result), asked]
        approved = promote_approved(result)
        published = publish_champion.override(task_id="publish_approved")(approved)
        asked >> approve_promotion >> approved
        published >> record_approval(result)

    return train_model()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
