"""
### Retire a model version

By hand only (Trigger DAG w/ config): `version` and `reason` are required, `retired_by`
defaults to the user who triggered the run.

**retire_version** tags the version `lifecycle.retired=true` with who, when and why. From
then on the gate never promotes it and `deploy_model` refuses to pin or roll back to it;
its Bentos, deployment records and MLflow runs are kept. Retiring the champion or the
version serving production is refused, saying what to do first (promote or deploy another
version). Retiring a retired version changes nothing.

Part of airflow-mlops. Code: `include/registry/retire.py`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import default_args
from include.orchestration.usecases import build_per_usecase, usecase_tags


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    @airflow_dag(
        dag_id=usecase.qualify("retire_model"),
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(usecase),
        tags=["registry", "mlflow", "governance", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "version": Param(
                type="string", pattern="^[0-9]+$", description="The version number to retire."
            ),
            "reason": Param(type="string", minLength=3, description="Why (kept on the version)."),
            "retired_by": Param("", type="string", description="Who; empty = who triggered it."),
        },
    )
    def retire_model() -> None:
        # A refusal (champion, serving) is deterministic: retrying repeats it.
        @task(retries=0)
        def retire_version(params: dict[str, Any] | None = None, **context: Any) -> dict:
            from include.steps.retire_model import retire_version as retire

            params = params or {}
            by = params.get("retired_by") or getattr(
                context.get("dag_run"), "triggering_user_name", None
            )
            return retire(str(params["version"]), str(params["reason"]), str(by or ""))

        retire_version()

    return retire_model()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test(run_conf={"version": "1", "reason": "example"})
