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

from include.orchestration.assets import LABELS_FEED, VALIDATED_LABELS
from include.orchestration.ingest_dag import build_ingest_dag

dag = build_ingest_dag(
    dag_id="ingest_labels",
    feed=LABELS_FEED,
    asset=VALIDATED_LABELS,
    doc_md=__doc__,
)

if __name__ == "__main__":
    dag.test()
