"""
### Score each day's validated transactions (batch)

Runs when the feature store is updated (the `features` Asset: the partitions its events
name), when a new champion is promoted (the `champion_model` Asset: the newest partition, so
scores of the model that now decides exist at once), or by hand to re-score: `days` (a
list of YYYY-MM-DD) or a `start_date`..`end_date` range; a manual run without either
scores the newest partition.

1. **resolve_days** – the days to score: those with a validated transactions partition (a
   labels-only day is left out; nothing left → skipped, not failed);
2. **resolve_model** – the champion's exact version and its stored decision threshold,
   pinned once so every day of the run is scored by the same model (no champion yet →
   skipped);
3. **score_partition** – one mapped task per day: point-in-time features of every row at its
   event time (the code training uses), the version's pyfunc, the threshold → one Parquet
   partition `<lake>/predictions/date=<D>/` replaced whole, and one `predictions` Asset event
   whose extra is the summary (rows, scored / unscored, decisions, model version, URI).
   A row whose customer or merchant features are missing or expired is not scored: it gets
   the spec's `serving.unscored_decision` and a reason.

Why one mapped task per day and not a loop: a partition is the unit of output, retry and
Asset event, so a failing day retries alone and the UI shows which day failed; each task pays
its own imports and model load (~10 s), bounded by `max_active_tis_per_dagrun` on 2 cores.
A loop would load the model once, which only matters for long manual backfills.

Part of airflow-mlops. Code: `include/scoring/`; policy: `usecase/fraud.yaml` (`serving`).
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
        dag_id=usecase.qualify(f"score_{assets.events_feed}"),
        schedule=assets.features | assets.champion_model,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # two runs re-scoring the same day would only race to the same file
        default_args=default_args(usecase),
        tags=["scoring", "predictions", "mlflow", "feast", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "days": Param(
                [],
                type="array",
                items={"type": "string", "format": "date"},
                description="Days to (re)score (YYYY-MM-DD); empty = the range, or the events.",
            ),
            "start_date": Param(None, **_DAY, description="Re-score from this day (YYYY-MM-DD)."),
            "end_date": Param(None, **_DAY, description="…to this day; empty = start_date only."),
        },
    )
    def score_transactions() -> None:
        @task
        def resolve_days(params: dict[str, Any] | None = None, **context: Any) -> list[str]:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.scoring.days import days_to_score
            from include.scoring.errors import NothingToScore

            events = (context.get("triggering_asset_events") or {}).get(assets.features, [])
            named = [p for e in events for p in (e.extra or {}).get("partitions", []) if p]
            params = params or {}
            try:
                return days_to_score(
                    named, params.get("days"), params.get("start_date"), params.get("end_date")
                )
            except NothingToScore as exc:  # a labels-only day or a young lake: not a failure
                raise AirflowSkipException(str(exc)) from exc

        @task
        def resolve_model() -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.scoring.errors import NothingToScore
            from include.scoring.model import scoring_model

            try:
                return dict(scoring_model())
            except NothingToScore as exc:  # no champion yet: nothing to score with, no alert
                raise AirflowSkipException(str(exc)) from exc

        @task(outlets=[assets.predictions], max_active_tis_per_dagrun=2)
        def score_partition(day: str, model: dict[str, Any]):  # noqa: ANN202 (generator task)
            from include.scoring.batch import score_partition as score
            from include.scoring.model import ScoringModel

            summary = score(day, ScoringModel(**model))
            yield Metadata(assets.predictions, dict(summary))
            return dict(summary)

        score_partition.partial(model=resolve_model()).expand(day=resolve_days())

    return score_transactions()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
