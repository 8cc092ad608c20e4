"""Tier 3: ``materialize_features`` end to end with ``dag.test()``.

Simulated days are landed and ingested with the ingest DAGs, then the features DAG computes
the tables, applies the definitions and materializes. Checked: the run succeeds and emits the
``features`` event; for sample customers the online value equals the historical
(point-in-time) value at the same timestamp (C4, training/serving skew); a re-run gives the
same table bytes and the same online values (idempotent).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from devtools.simulator import land
from include.features import schema, training_set
from include.spec import load_spec
from tests.integration.conftest import run_dag, task_states
from tests.integration.test_ingest_dag import _asset_events

pytestmark = pytest.mark.e2e
FIRST = date(2026, 11, 17)
DAYS = [FIRST + timedelta(days=i) for i in range(3)]
ROWS = 1000


def _ingest_days(spec, dagbag) -> None:
    for day in DAYS:
        land(spec, "transactions", day, rows=ROWS)
        assert (
            str(run_dag(dagbag, "ingest_transactions", batch_date=day.isoformat()).state)
            == "success"
        )
        if land(spec, "labels", day, rows=ROWS, since=FIRST):  # day 1 has no chargeback yet
            assert (
                str(run_dag(dagbag, "ingest_labels", batch_date=day.isoformat()).state) == "success"
            )


def _tables(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def _skew_pairs(root: Path, at: pd.Timestamp, n: int = 8) -> tuple[dict, pd.DataFrame]:
    tx = pd.concat(
        pd.read_parquet(p)
        for p in sorted((root / "lake/validated/transactions").rglob("*.parquet"))
    )
    sample = tx.drop_duplicates("customer_id").sample(n, random_state=3)
    rows = [
        {
            "customer_id": r.customer_id,  # its pseudonym (pii)
            "merchant_id": int(r.merchant_id),
            "amount": 42.0,
            "event_timestamp": at.to_pydatetime(),
        }
        for r in sample.itertuples()
    ]
    online = training_set.online_features(rows)
    entity_df = pd.DataFrame(rows).assign(transaction_id="probe", event_timestamp=at)
    offline = training_set.historical_features(entity_df, include_as_of=True)
    return online, offline


def test_C4_materialize_dag_serves_online_what_training_reads_and_reruns_identically(
    data_root, mailbox, dagbag
) -> None:
    spec = load_spec()
    fspec = schema.feature_spec(spec)
    customer, merchant = (
        fspec.view(n) for n in ("customer_transaction_stats", "merchant_daily_stats")
    )
    _ingest_days(spec, dagbag)
    conf = {"start_date": DAYS[0].isoformat(), "end_date": DAYS[-1].isoformat()}
    # when the features DAG runs over the ingested days
    dr = run_dag(dagbag, "materialize_features", **conf)
    # then every task succeeded and the features event names partitions, rows and service
    assert str(dr.state) == "success", task_states(dr)
    events = _asset_events("features", dr)
    assert len(events) == 1, events  # this run's event, not the session's latest
    (event,) = events
    assert event["partitions"] == [d.isoformat() for d in DAYS]
    assert event["feature_service"] == "fraud_detection_v1"
    assert event["rows"][DAYS[0].isoformat()][customer.name] == 2 * ROWS
    tables_before = _tables(data_root / "features")
    assert len(tables_before) == 2 * len(DAYS)
    # C4: online values equal the point-in-time values at the same timestamp
    at = pd.Timestamp(DAYS[-1] + timedelta(days=1), tz="UTC") + pd.Timedelta(minutes=30)
    online, offline = _skew_pairs(data_root, at)
    for name in schema.model_features(fspec):
        want = [None if pd.isna(v) else v for v in offline[name]]
        assert online[name] == pytest.approx(want, nan_ok=True), name
    for stamp in (customer.as_of, merchant.as_of):  # the same stored row answered
        assert [training_set.as_timestamp(v) for v in online[stamp]] == [
            v.floor("s") for v in offline[stamp]
        ]
    assert offline[merchant.as_of].eq(pd.Timestamp(DAYS[-1] + timedelta(days=1), tz="UTC")).all()
    # when it runs again: the same tables, byte for byte, and the same online values
    again = run_dag(dagbag, "materialize_features", **conf)
    assert str(again.state) == "success", task_states(again)
    events = _asset_events("features", again)
    assert len(events) == 1, events
    assert (events[0]["partitions"], events[0]["rows"]) == (event["partitions"], event["rows"])
    assert _tables(data_root / "features") == tables_before
    assert _skew_pairs(data_root, at)[0] == online
    assert mailbox.messages == []
