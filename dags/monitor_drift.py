"""
### Monitor production: drift, skew, quality and staleness of the champion

Runs nightly (the window: the last `monitoring.window_days` days, ending yesterday; quality
on the newest window of that length whose labels have matured) and by hand with the
window's Params (Trigger DAG w/ config: quality on that window too).

1. **measure** – the window's batch scores (features as scored), captured online requests
   and matured labels against the champion's reference (its training set, its holdout):
   Evidently reports for data drift, prediction drift, training/serving skew and quality,
   written to `lake/reports/drift/<first>_<last>/` (open `index.html`) and to the Evidently
   workspace (`make evidently-ui`);
2. **decide** – the spec's `monitoring` policy: the minimum sample guard ("not enough
   data" is never drift), warm-up per feature (a feature is judged once its window has
   filled), a quarantined day means "not judged", one alert and one retrain per
   breach (dedup key + cooldown), skew alerts without retraining, staleness;
3. **notify** – one mail per alert: what moved, by how much, with how much data, the report,
   what happens next;
4. **trigger_retrain** – only on a new drift or quality breach: `train_model` with the
   reason and the spec's `retrain_window_days` in its conf; its gate still decides;
5. **record** – one row per run in the metrics history (`lake/monitoring/history.csv`), and
   the run's summary as its `drift_reports` Asset event (window, decision, reason, report).

Malformed current data fails the run with an alert; it is never a pass or a retrain.
Code: `include/monitoring/`; policy: `usecase/fraud.yaml` (`monitoring`).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Metadata, Param, task
from airflow.sdk import dag as airflow_dag

from include.config import UseCase
from include.orchestration.alerts import default_args
from include.orchestration.assets import assets_of
from include.orchestration.usecases import build_per_usecase, usecase_tags

_DECISION = "ti.xcom_pull(task_ids='decide')"
# The run's summary on its drift_reports Asset event (the UI shows it with the run).
SUMMARY_KEYS = (
    "window_first",
    "window_last",
    "quality_window_first",
    "quality_window_last",
    "champion_version",
    "current_rows",
    "labelled_rows",
    "decision",
    "retrain",
    "trigger_run_id",
    "reason",
    "report_uri",
)


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)

    @airflow_dag(
        dag_id=usecase.qualify("monitor_drift"),
        schedule="30 3 * * *",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # the dedup state and the history have one writer
        render_template_as_native_obj=True,  # the trigger's conf is decide's dict, typed
        default_args=default_args(usecase),
        tags=["monitoring", "evidently", "drift", *usecase_tags(usecase)],
        doc_md=__doc__,
        params={
            "start": Param(
                None,
                type=["null", "string"],
                format="date",
                description="First day of the window (YYYY-MM-DD); empty = window_days before end.",
            ),
            "end": Param(
                None,
                type=["null", "string"],
                format="date",
                description="Last day of the window; empty = the day before the run.",
            ),
            "window_days": Param(
                None,
                type=["null", "integer"],
                minimum=1,
                maximum=90,
                description="Days in the window when start is empty; empty = the spec's.",
            ),
        },
    )
    def monitor_drift() -> None:
        @task
        def measure(params: dict[str, Any] | None = None, **context: Any) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from include.monitoring.errors import NoChampion
            from include.steps.monitor_drift import measure as run
            from include.steps.monitor_drift import run_day_of

            run_day = run_day_of(
                getattr(context.get("dag_run"), "run_after", None),
                context.get("data_interval_end"),
                context.get("logical_date"),
            )
            try:
                summary = run(run_day, params or {}, context["run_id"])
            except NoChampion as exc:  # a young deployment: nothing to monitor yet, no alert
                raise AirflowSkipException(str(exc)) from exc
            from include.orchestration.evidence import push_evidence

            push_evidence(summary.get("report_uri"), context=context)  # the task's "Evidence" link
            return summary

        @task
        def decide(summary: dict, **context: Any) -> dict:
            from include.steps.monitor_drift import decide as run

            return run(summary, context["run_id"])

        @task
        def notify(summary: dict, decision: dict) -> list[str]:
            from include.steps.monitor_drift import notify as run

            return run(summary, decision)

        @task.branch
        def retrain_or_not(decision: dict) -> str | None:
            return "trigger_retrain" if decision["retrain"] else None

        trigger_retrain = TriggerDagRunOperator(
            task_id="trigger_retrain",
            trigger_dag_id=usecase.qualify("train_model"),
            trigger_run_id="{{ " + _DECISION + "['trigger_run_id'] }}",
            conf="{{ " + _DECISION + "['trigger_conf'] }}",  # reason + the retrain window
            skip_when_already_exists=True,  # a retried task does not retrain twice
            retries=2,
        )

        # After the mails and the trigger (skipped when no retrain), never after a skipped measure.
        @task(trigger_rule="none_failed_min_one_success", outlets=[assets.drift_reports])
        def record(summary: dict, decision: dict):  # noqa: ANN202 (generator task)
            from include.steps.monitor_drift import record as run

            row = run(summary, decision)
            yield Metadata(
                assets.drift_reports,
                {k: row[k] for k in SUMMARY_KEYS} | {"verdicts": decision["verdicts"]},
            )
            return row

        summary = measure()
        decision = decide(summary)
        mails = notify(summary, decision)
        branch = retrain_or_not(decision)
        branch >> trigger_retrain
        [mails, trigger_retrain] >> record(summary, decision)

    return monitor_drift()


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
