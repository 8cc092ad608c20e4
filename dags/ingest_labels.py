"""
### Ingest fraud labels (the delayed chargeback feed)

Labels arrive days after their transactions: a chargeback marks fraud, maturity without
one confirms a genuine transaction. Each day's label batch (`<landing>/labels/<date>/`) is
validated like the transactions (schema, types, completeness, uniqueness, allowed values,
freshness of `label_timestamp`, re-delivery), then published to
`validated/labels/date=<date>` with a `validated_labels` Asset event, or quarantined with
one alert mail.

Part of airflow-mlops. Trigger by hand with `batch_date` to (re)ingest a given day.
Rules: `usecase/fraud.yaml` (`feeds.labels`, `labels`).
"""

from include.config import UseCase
from include.orchestration.assets import assets_of
from include.orchestration.ingest_dag import build_ingest_dag
from include.orchestration.usecases import build_per_usecase


def build(usecase: UseCase):  # noqa: ANN201 (a DAG)
    assets = assets_of(usecase)
    return build_ingest_dag(
        usecase=usecase,
        dag_id=f"ingest_{assets.labels_feed}",
        feed=assets.labels_feed,
        asset=assets.validated_labels,
        doc_md=__doc__,
    )


dag = build_per_usecase(build, globals())

if __name__ == "__main__":
    dag.test()
