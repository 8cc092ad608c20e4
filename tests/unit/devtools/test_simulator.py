"""Unit tests of the transaction simulator: determinism, schema, behaviour, drift, labels,
landing (local and S3) and the CLI. Written as given / when / then; no Airflow import."""

from __future__ import annotations

import datetime as dt
import io
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from devtools import simulator as sim
from include.spec import UseCaseSpec, load_spec

ROOT = Path(__file__).resolve().parents[3]
DAY = dt.date(2026, 11, 20)
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")


@pytest.fixture(scope="module")
def spec() -> UseCaseSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml")


def _days(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def _batches(spec: UseCaseSpec, days: list[dt.date], drift: sim.Drift | None = None):
    frames, truth = [], []
    for d in days:
        batch = sim.simulate_day(spec, d, drift=drift)
        frames.append(batch.transactions)
        truth.append(batch.fraud)
    return pd.concat(frames, ignore_index=True), np.concatenate(truth)


def _index(tx: pd.DataFrame) -> np.ndarray:
    """Each row's customer as the population's index (ids are ``cus_<index + 1>``)."""
    return tx["customer_id"].str[4:].astype(int).to_numpy() - 1


def _home(spec: UseCaseSpec, tx: pd.DataFrame) -> np.ndarray:
    """Each row's customer home country, from the (day-independent) population."""
    pop = sim.population(spec)
    return np.array(spec.simulator.countries, dtype=object)[pop.customer_country[_index(tx)]]


def _old_pattern_score(spec: UseCaseSpec, tx: pd.DataFrame) -> np.ndarray:
    """A hand-made score of the pre-drift fraud pattern, from customer-history facts only."""
    pop = sim.population(spec)
    idx = _index(tx)
    return (
        (tx["channel"] == "online").to_numpy() * 1.0
        + (tx["country"].to_numpy() != _home(spec, tx))
        + (tx["event_timestamp"].dt.hour < 6).to_numpy()
        + np.log(tx["amount"].to_numpy() / np.exp(pop.customer_log_mu[idx]))
    )


def _average_precision(y: np.ndarray, score: np.ndarray) -> float:
    y = y[np.argsort(-score, kind="stable")]
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    return float(precision[y].mean())


# --- determinism and schema -----------------------------------------------------------


def test_same_arguments_give_identical_frames(spec: UseCaseSpec) -> None:
    # Given two calls with the same spec, day, rows and drift
    drift = sim.Drift(covariate=0.3, concept=0.4)
    # When both are simulated
    a = sim.simulate_day(spec, DAY, rows=3000, drift=drift)
    b = sim.simulate_day(spec, DAY, rows=3000, drift=drift)
    # Then frames and hidden truth are identical
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    np.testing.assert_array_equal(a.fraud, b.fraud)


def test_different_days_give_different_frames(spec: UseCaseSpec) -> None:
    a = sim.simulate_transactions(spec, DAY, rows=1000)
    b = sim.simulate_transactions(spec, DAY + dt.timedelta(days=1), rows=1000)
    assert not a["customer_id"].equals(b["customer_id"])
    assert set(a["transaction_id"]).isdisjoint(b["transaction_id"])


def test_no_drift_equals_zero_drift_and_drift_waits_for_its_start(spec: UseCaseSpec) -> None:
    # Given a strong drift that starts tomorrow
    later = sim.Drift(covariate=1.0, concept=1.0, start=DAY + dt.timedelta(days=1))
    # When today is simulated without drift, with zero drift and with the later drift
    plain = sim.simulate_transactions(spec, DAY, rows=2000)
    # Then all three are the same batch
    pd.testing.assert_frame_equal(
        plain, sim.simulate_transactions(spec, DAY, rows=2000, drift=sim.Drift())
    )
    pd.testing.assert_frame_equal(
        plain, sim.simulate_transactions(spec, DAY, rows=2000, drift=later)
    )


def test_columns_and_dtypes_follow_the_spec(spec: UseCaseSpec) -> None:
    # Given the transactions feed spec
    feed = spec.feed("transactions")
    # When a default-size day is simulated
    tx = sim.simulate_transactions(spec, DAY)
    # Then it has the spec's columns in order, the spec's row count and typed columns
    assert list(tx.columns) == feed.column_names
    assert len(tx) == spec.simulator.rows_per_day
    for col in feed.column_specs:
        dtype = tx[col.name].dtype
        if col.dtype == "timestamp":
            assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
        elif col.dtype == "int":
            assert dtype == np.int64
        elif col.dtype == "float":
            assert dtype == np.float64
        else:
            assert pd.api.types.is_object_dtype(dtype)
        values = tx[col.name].dropna()
        if col.values is not None:
            assert set(values) <= set(col.values), col.name
        if col.regex is not None:
            assert values.str.fullmatch(col.regex).all(), col.name
        if col.min is not None:
            assert values.min() >= col.min and values.max() <= col.max, col.name
        if col.nullable:
            assert tx[col.name].isna().mean() <= col.max_null_fraction / 5, col.name
        else:
            assert tx[col.name].notna().all(), col.name
    assert (tx["amount"] == tx["amount"].round(2)).all()
    assert set(tx["country"].dropna()) <= set(spec.simulator.countries)


def test_rows_argument_sets_the_count_including_zero(spec: UseCaseSpec) -> None:
    assert len(sim.simulate_transactions(spec, DAY, rows=1)) == 1
    empty = sim.simulate_transactions(spec, DAY, rows=0)
    assert empty.empty and list(empty.columns) == spec.feed("transactions").column_names
    with pytest.raises(ValueError, match="rows"):
        sim.simulate_transactions(spec, DAY, rows=-1)


def test_ids_are_unique_across_days(spec: UseCaseSpec) -> None:
    tx, _ = _batches(spec, _days(DAY, 5))
    assert tx["transaction_id"].is_unique
    assert tx["transaction_id"].str.fullmatch(r"tx_[0-9a-f]{16}").all()


def test_event_times_follow_a_daily_cycle_with_a_few_late_rows(spec: UseCaseSpec) -> None:
    # Given a day of transactions
    tx = sim.simulate_transactions(spec, DAY)
    ts = tx["event_timestamp"]
    start = pd.Timestamp(DAY, tz="UTC")
    # Then rows are time-ordered, within the day or in the last 6 h of the day before
    assert ts.is_monotonic_increasing
    assert ts.min() >= start - pd.Timedelta(hours=6) and ts.max() < start + pd.Timedelta(days=1)
    late = (ts < start).mean()
    assert 0.002 < late < 0.01
    # And evenings are busier than the small hours
    hours = ts[ts >= start].dt.hour.value_counts()
    assert hours.loc[18:20].sum() > 5 * hours.loc[2:4].sum()


# --- behaviour ------------------------------------------------------------------------


def test_fraud_rate_is_close_to_the_spec(spec: UseCaseSpec) -> None:
    _, fraud = _batches(spec, _days(DAY, 5))
    assert abs(fraud.mean() - spec.simulator.fraud_rate) < 0.004


def test_customers_keep_their_traits_across_days(spec: UseCaseSpec) -> None:
    # Given a week of transactions
    tx, _ = _batches(spec, _days(DAY, 7))
    # Then each customer has one age band and one currency on every day
    traits = tx.dropna(subset=["customer_age_band"]).groupby("customer_id")
    assert (traits["customer_age_band"].nunique() == 1).all()
    assert (tx.groupby("customer_id")["currency"].nunique() == 1).all()
    # And most purchases happen in the customer's home country
    assert (tx["country"].to_numpy() == _home(spec, tx)).mean() > 0.9


def test_fraud_follows_a_learnable_pattern(spec: UseCaseSpec) -> None:
    # Given a few days of transactions and their hidden truth
    tx, fraud = _batches(spec, _days(DAY, 4))
    # Then fraud is mostly online and at night, unlike genuine purchases
    online = (tx["channel"] == "online").to_numpy()
    night = (tx["event_timestamp"].dt.hour < 6).to_numpy()
    assert online[fraud].mean() > 0.7 > 0.45 > online[~fraud].mean()
    assert night[fraud].mean() > 3 * night[~fraud].mean()
    # And a score from customer-history facts ranks fraud far above the base rate
    ap = _average_precision(fraud, _old_pattern_score(spec, tx))
    assert ap > 10 * fraud.mean()


def test_covariate_drift_raises_amounts_and_moves_channel_mix(spec: UseCaseSpec) -> None:
    # Given the same day with and without covariate drift
    base = sim.simulate_transactions(spec, DAY)
    drifted = sim.simulate_transactions(spec, DAY, drift=sim.Drift(covariate=1.0))
    # Then amounts are about twice as high and more purchases are online and abroad
    assert drifted["amount"].median() > 1.7 * base["amount"].median()
    assert (drifted["channel"] == "online").mean() > (base["channel"] == "online").mean() + 0.2
    abroad = (drifted["country"] != _home(spec, drifted)).mean()
    assert abroad > (base["country"] != _home(spec, base)).mean() + 0.1


def test_concept_drift_moves_the_fraud_pattern(spec: UseCaseSpec) -> None:
    # Given the same days with and without full concept drift
    days = _days(DAY, 3)
    tx, fraud = _batches(spec, days)
    dtx, dfraud = _batches(spec, days, drift=sim.Drift(concept=1.0))
    # Then fraud turns into small daytime in-person grocery/pharmacy purchases
    in_person = (dtx["channel"] == "pos").to_numpy()
    daytime = dtx["event_timestamp"].dt.hour.between(9, 20).to_numpy()
    shop = dtx["merchant_category"].isin(["grocery", "pharmacy"]).to_numpy()
    assert in_person[dfraud].mean() > 0.95 and daytime[dfraud].mean() > 0.9
    assert shop[dfraud].mean() > 0.7 > shop[fraud].mean()
    # And the old signals stop pointing at fraud
    old_ap = _average_precision(fraud, _old_pattern_score(spec, tx))
    new_ap = _average_precision(dfraud, _old_pattern_score(spec, dtx))
    assert new_ap < dfraud.mean() * 2 < old_ap / 5


def test_drift_strengths_must_be_between_0_and_1() -> None:
    with pytest.raises(ValueError, match="covariate"):
        sim.Drift(covariate=1.5)


# --- labels ---------------------------------------------------------------------------


def test_each_transaction_is_labelled_once_with_the_right_delay(spec: UseCaseSpec) -> None:
    # Given three days of transactions and every label day that can refer to them
    rows, tx_days = 400, _days(DAY, 3)
    tx = pd.concat([sim.simulate_day(spec, d, rows=rows).transactions for d in tx_days])
    truth = np.concatenate([sim.simulate_day(spec, d, rows=rows).fraud for d in tx_days])
    label_days = _days(DAY - dt.timedelta(days=1), 13)
    # When the label feed of each of those days is simulated
    per_day = {d: sim.simulate_labels(spec, d, rows=rows) for d in label_days}
    labels = pd.concat(per_day.values(), ignore_index=True)
    ours = labels[labels["transaction_id"].isin(tx["transaction_id"])]
    # Then each transaction has exactly one label, on the day its timestamp says
    assert ours["transaction_id"].is_unique and len(ours) == len(tx)
    for d, frame in per_day.items():
        assert (frame["label_timestamp"].dt.date == d).all()
        assert list(frame.columns) == spec.feed("labels").column_names
    # And the label is the truth, known min..max days (fraud) or maturity days (genuine) later
    joined = ours.merge(tx[["transaction_id", "event_timestamp"]], on="transaction_id")
    assert (joined["event_timestamp_x"] == joined["event_timestamp_y"]).all()
    is_fraud = dict(zip(tx["transaction_id"], truth, strict=True))
    assert (ours["is_fraud"].to_numpy() == ours["transaction_id"].map(is_fraud)).all()
    delay = (ours["label_timestamp"] - ours["event_timestamp"]).dt.total_seconds() / 86400
    lab = spec.labels
    fraud_delay = delay[ours["is_fraud"] == 1]
    assert len(fraud_delay) > 0
    assert fraud_delay.between(lab.delay_days.min, lab.delay_days.max).all()
    assert (delay[ours["is_fraud"] == 0] == spec.labels.maturity_days).all()


def test_labels_are_deterministic_and_respect_since(spec: UseCaseSpec) -> None:
    a = sim.simulate_labels(spec, DAY, rows=300)
    pd.testing.assert_frame_equal(a, sim.simulate_labels(spec, DAY, rows=300))
    assert a["is_fraud"].dtype == np.int64 and set(a["is_fraud"]) <= {0, 1}
    recent = sim.simulate_labels(spec, DAY, rows=300, since=DAY - dt.timedelta(days=3))
    assert 0 < len(recent) < len(a)
    assert sim.simulate_labels(spec, DAY, rows=300, since=DAY).empty


# --- landing --------------------------------------------------------------------------


def _read(uri: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(Path(uri).read_bytes()), dtype=str, keep_default_na=False)


def test_land_writes_the_documented_csv(spec: UseCaseSpec, tmp_path: Path) -> None:
    # When a day of transactions is landed
    (uri,) = sim.land(spec, "transactions", DAY, landing_uri=str(tmp_path), rows=500)
    # Then it sits at <landing>/<feed>/<day>/<feed>-<day>.csv with ISO-8601 UTC timestamps
    assert uri == str(tmp_path / "transactions" / "2026-11-20" / "transactions-2026-11-20.csv")
    raw = _read(uri)
    assert list(raw.columns) == spec.feed("transactions").column_names
    assert raw["event_timestamp"].str.fullmatch(ISO_UTC.pattern).all()
    # And it reads back to the simulated frame
    back = pd.read_csv(uri, parse_dates=["event_timestamp"])
    frame = sim.simulate_transactions(spec, DAY, rows=500)
    pd.testing.assert_series_equal(back["event_timestamp"], frame["event_timestamp"])
    pd.testing.assert_series_equal(back["amount"], frame["amount"])


def test_land_is_idempotent_and_clears_its_own_stale_files(
    spec: UseCaseSpec, tmp_path: Path
) -> None:
    # Given a day landed with a duplicate delivery and a file someone else dropped
    folder = tmp_path / "transactions" / DAY.isoformat()
    sim.land(
        spec, "transactions", DAY, landing_uri=str(tmp_path), rows=200, fault="duplicate_delivery"
    )
    (folder / "manual-upload.csv").write_text("keep me")
    assert len(list(folder.iterdir())) == 3
    # When the day is landed clean, twice
    first = sim.land(spec, "transactions", DAY, landing_uri=str(tmp_path), rows=200)
    content = Path(first[0]).read_bytes()
    second = sim.land(spec, "transactions", DAY, landing_uri=str(tmp_path), rows=200)
    # Then the same single simulator file remains, byte for byte; the foreign file is kept
    assert first == second
    assert Path(second[0]).read_bytes() == content
    assert sorted(p.name for p in folder.iterdir()) == [
        "manual-upload.csv",
        "transactions-2026-11-20.csv",
    ]


def test_land_labels_and_nothing_when_no_label_is_due(spec: UseCaseSpec, tmp_path: Path) -> None:
    (uri,) = sim.land(spec, "labels", DAY, landing_uri=str(tmp_path), rows=300)
    assert list(_read(uri).columns) == spec.feed("labels").column_names
    assert sim.land(spec, "labels", DAY, landing_uri=str(tmp_path), rows=300, since=DAY) == []
    assert not Path(uri).exists()  # the earlier file of that day is stale now


def test_land_rejects_unknown_feed_and_fault(spec: UseCaseSpec, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fault 'nope'"):
        sim.land(spec, "transactions", DAY, landing_uri=str(tmp_path), fault="nope")
    with pytest.raises(ValueError, match="no feed"):
        sim.land(spec, "customers", DAY, landing_uri=str(tmp_path))


def test_100k_rows_in_one_day_keep_unique_transaction_ids(spec: UseCaseSpec) -> None:
    # (speed is not asserted here: bench/ times the simulator, python -m bench)
    # when a large day is simulated
    batch = sim.simulate_day(spec, DAY, rows=100_000)
    # then it has exactly the rows asked for, and no transaction id repeats
    assert len(batch.transactions) == 100_000
    assert batch.transactions["transaction_id"].is_unique


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_land_to_s3(spec: UseCaseSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    from include import storage

    # Given an in-process S3 server with an empty bucket
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("MLOPS_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="landing")
        # When a day is landed with a duplicate delivery, then landed clean
        dup = sim.land(
            spec,
            "transactions",
            DAY,
            landing_uri="s3://landing/raw",
            rows=300,
            fault="duplicate_delivery",
        )
        clean = sim.land(spec, "transactions", DAY, landing_uri="s3://landing/raw", rows=300)
        # Then the objects are where land() said, and the stale duplicate is gone
        assert dup[1] == "s3://landing/raw/transactions/2026-11-20/transactions-2026-11-19.csv"
        assert [o.uri for o in storage.list_objects("s3://landing/raw")] == clean
        local = sim.to_csv_bytes(sim.simulate_transactions(spec, DAY, rows=300))
        assert storage.read_bytes(clean[0]) == local
    finally:
        server.stop()


# --- CLI ------------------------------------------------------------------------------


def test_cli_lands_days_and_prints_one_line_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the CLI lands two days of both feeds with a duplicate delivery
    code = sim.main(
        [
            "--start",
            "2026-11-18",
            "--days",
            "2",
            "--rows",
            "200",
            "--landing",
            str(tmp_path),
            "--fault",
            "duplicate_delivery",
            "--spec",
            str(ROOT / "usecase" / "fraud.yaml"),
        ]
    )
    # Then each written file is reported with its row count
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 8
    assert re.fullmatch(
        r"transactions 2026-11-18 200 rows .*transactions-2026-11-18\.csv", lines[0]
    )
    assert sorted(p.name for p in (tmp_path / "labels" / "2026-11-19").iterdir()) == [
        "labels-2026-11-18.csv",
        "labels-2026-11-19.csv",
    ]


def test_cli_reports_a_fault_that_does_not_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = sim.main(
        [
            "--start",
            "2026-11-18",
            "--feed",
            "labels",
            "--rows",
            "100",
            "--landing",
            str(tmp_path),
            "--fault",
            "nulls_above_threshold",
        ]
    )
    assert code == 2 and "no nullable column" in capsys.readouterr().err


def test_cli_help_lists_every_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        sim.main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for name in sim.FAULTS:
        assert name in out


def test_a_drift_builds_up_over_its_ramp_days_then_holds() -> None:
    start = dt.date(2026, 11, 10)
    drift = sim.Drift(covariate=0.9, concept=0.6, start=start, ramp_days=3)
    strengths = [drift.strengths(start + dt.timedelta(days=i)) for i in range(-1, 5)]
    flat = [x for pair in strengths for x in pair]
    assert flat == pytest.approx([0.0, 0.0, 0.3, 0.2, 0.6, 0.4, 0.9, 0.6, 0.9, 0.6, 0.9, 0.6])
    assert sim.Drift(covariate=0.9, start=start).strengths(start) == (0.9, 0.0)  # a step
