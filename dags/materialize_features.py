"""
### Materialize fraud features (Feast)

Runs when a `validated_transactions` or `validated_labels` partition is published:

1. **resolve_partitions** – the partitions named by the triggering events (a manual run:
   the `start_date`..`end_date` range, or else the latest partition of each feed), plus
   every day published since its tables were computed, whose event was lost (fault B12);
2. **compute_feature_tables** – point-in-time customer and merchant rows for those
   partitions, looking back 30+ days into earlier partitions, one Parquet file per view and
   partition under `<data_root>/features/` (re-runs replace it);
3. **apply_feature_definitions** – `feast apply` of `feature_repo/` (idempotent);
4. **materialize_online** – `materialize(start, end)` over the partitions plus the spec's
   overlap (late rows), into an online store that never lets an older row overwrite a newer
   one (fault A7);
5. **publish_features** – the `features` Asset event (partitions, rows per view, feature
   service) that training listens to.

Part of airflow-mlops. Code: `include/features/`; definitions: `feature_repo/`; parameters:
`usecase/fraud.yaml` (`features`).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Metadata, Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import default_args
from include.orchestration.assets import assets_of
from include.orchestration.usecases import build_per_usecase, usecase_tags

_DAY = {"type": ["null", "string"], "format": "date"}


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)

    @airflow_dag(
        dag_id=usecase.qualify("materialize_features"),
        schedule=assets.validated_events | assets.validated_labels,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # two runs would race on the same partitions and online rows
        default_args=default_args(usecase),
        tags=["features", "feast", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "start_date": Param(None, **_DAY, description="Recompute from this day (YYYY-MM-DD)."),
            "end_date": Param(None, **_DAY, description="…to this day; empty = start_date only."),
        },
    )
    def materialize_features() -> None:
        @task
        def resolve_partitions(params: dict[str, Any] | None = None, **context: Any) -> list[str]:
            from include.steps.materialize_features import resolve_partitions as resolve

            events = context.get("triggering_asset_events") or {}
            named = [
                str(event.extra["partition"])
                for asset in (assets.validated_events, assets.validated_labels)
                for event in (events.get(asset, []))
                if (event.extra or {}).get("partition")
            ]
            params = params or {}
            return resolve(named, params.get("start_date"), params.get("end_date"))

        @task
        def compute_feature_tables(days: list[str]) -> dict[str, Any]:
            from include.steps.materialize_features import compute_tables

            return compute_tables(days)

        @task
        def apply_feature_definitions() -> dict[str, Any]:
            from include.steps.materialize_features import apply_definitions

            return apply_definitions()

        @task
        def materialize_online(days: list[str]) -> dict[str, Any]:
            from include.steps.materialize_features import materialize_partitions

            return materialize_partitions(days)

        @task(outlets=[assets.features])
        def publish_features(days: list[str], rows: dict[str, Any], materialized: dict[str, Any]):  # noqa: ANN202 (generator task)
            from include.steps.materialize_features import features_event

            extra = features_event(days, rows, materialized)
            yield Metadata(assets.features, extra)
            return extra

        days = resolve_partitions()
        rows = compute_feature_tables(days)
        applied = apply_feature_definitions()
        materialized = materialize_online(days)
        [rows, applied] >> materialized
        publish_features(days, rows, materialized)

    return materialize_features()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
