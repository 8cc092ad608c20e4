"""
### Deploy a model version to the stable scoring address, checked, watched, recorded

Runs on every promotion (the `champion_model` Asset), or by hand with a `version` Param to
**pin** a version or **roll back** to an earlier one (Trigger DAG w/ config).

1. **resolve_version** – the exact version (Param, else the promoted one); skipped when it
   already serves;
2. **build_bento** – the version's files from the registry into BentoML's model store and
   its Bento (`<use case>_service:v<N>`, pinned dependencies, generated Dockerfile);
3. **check_candidate** – the built Bento served on a private port: golden requests against
   the reference path (Feast + the registry's model), the bad-input catalogue (D1–D5, E4)
   and the spec's latency budget — before any client traffic reaches it;
4. **switch** – the stable service loads the version beside the old one and swaps (no
   restart, no refused request);
5. **watch** – canary traffic judged on the service's own metrics (error rate, p99); a
   breach rolls back automatically;
6. **record** – the registry's `production` alias and `deploy.*` tags, a record in the
   lake, and the `deployed_model` Asset event.

Any failure leaves the previous version serving, fails the run and sends one mail with
what failed and how to retry or roll back. Code: `include/deployment/`, `serving/`;
limits: `usecase/fraud.yaml` (`serving`).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Metadata, Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import DeployAlertNotifier, default_args
from include.orchestration.assets import assets_of
from include.orchestration.usecases import build_per_usecase, usecase_tags

# Checks and the switch are deterministic: a retry would repeat the same verdict (and the
# candidate's start-up); packaging talks to the registry and retries.
_ONCE = {"retries": 0}


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)

    @airflow_dag(
        dag_id=usecase.qualify("deploy_model"),
        schedule=[assets.champion_model],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # one deployment at a time: the pointer has one writer
        default_args=default_args(
            usecase,
            on_failure_callback=DeployAlertNotifier(usecase.name if usecase.scoped else None),
        ),
        tags=["serving", "bentoml", "deployment", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "version": Param(
                "",
                type="string",
                pattern="^[0-9]*$",
                description="Version to deploy (pin or roll back); empty = the champion.",
            ),
            "force": Param(False, type="boolean", description="Redeploy even if it serves."),
        },
    )
    def deploy_model() -> None:
        @task(inlets=[assets.champion_model])
        def resolve_version(
            params: dict[str, Any] | None = None, *, triggering_asset_events: Any = None
        ) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.steps.deploy_model import AlreadyServing, requested_version, resolve

            params = params or {}
            extras = [
                e.extra for e in (triggering_asset_events or {}).get(assets.champion_model, [])
            ]
            try:
                return resolve(
                    requested_version(params.get("version"), extras),
                    force=bool(params.get("force")),
                )
            except AlreadyServing as exc:
                raise AirflowSkipException(str(exc)) from None

        @task
        def build_bento(target: dict) -> dict:
            from include.steps.deploy_model import build

            return build(target)

        @task(**_ONCE)
        def check_candidate(target: dict, packaged: dict) -> dict:
            from include.steps.deploy_model import check_candidate as run

            return run(target, packaged)

        @task(**_ONCE)
        def switch(target: dict, packaged: dict, checked: dict, **context: Any) -> dict:
            from include.steps.deploy_model import do_switch

            return do_switch(target, packaged, context["run_id"])

        @task(**_ONCE)
        def watch(target: dict, new_pointer: dict) -> dict:
            from include.steps.deploy_model import watch_or_rollback

            return watch_or_rollback(target, new_pointer)

        @task(outlets=[assets.deployed_model])
        def record(
            target: dict, packaged: dict, new_pointer: dict, checked: dict, watched: dict, **context
        ):  # noqa: ANN202 (generator task)
            from include.steps.deploy_model import record as run

            extra = run(target, packaged, new_pointer, checked, watched, context["run_id"])
            yield Metadata(assets.deployed_model, extra)
            return extra

        target = resolve_version()
        packaged = build_bento(target)
        checked = check_candidate(target, packaged)
        new_pointer = switch(target, packaged, checked)
        watched = watch(target, new_pointer)
        record(target, packaged, new_pointer, checked, watched)

    return deploy_model()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
