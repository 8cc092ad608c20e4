"""
### Ingest card transactions

Takes the day's transaction batch from the landing zone (`<landing>/transactions/<date>/`),
validates it with Great Expectations (schema, types, completeness, uniqueness, ranges,
row count, freshness) and a re-delivery check, then

* **valid** → replaces the `validated/transactions/date=<date>` Parquet partition and emits
  the `validated_transactions` Asset event (partition, rows) that feature materialization
  listens to;
* **invalid** → moves the batch with its validation result and Data Docs to
  `quarantine/transactions/<date>/<run>/` and fails with **one** alert mail.

Trigger by hand with `batch_date` to (re)ingest a given day; re-running a day replaces its
partition. Part of airflow-mlops. Settings: `.env.example`; rules: `usecase/fraud.yaml`
(`feeds.transactions`).
"""

from include.config import UseCase
from include.orchestration.assets import assets_of
from include.orchestration.ingest_dag import build_ingest_dag
from include.orchestration.usecases import build_per_usecase


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)
    return build_ingest_dag(
        usecase=usecase,
        dag_id=f"ingest_{assets.events_feed}",
        feed=assets.events_feed,
        asset=assets.validated_events,
        doc_md=__doc__,
    )


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
