"""The current window of production (include/monitoring/window.py) read from a tmp lake laid
out by include.layout, in the formats include/scoring and serving/capture.py write.

Given a window's days, when monitoring reads them, then it gets the scored rows of the days
present (missing days listed, unscored rows left out), the served requests, the matured
labels (newest per transaction) and the quarantined days; a malformed window (a missing
column, a non-numeric feature, a broken capture line) fails loudly naming the file (C7).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include import layout, storage
from include.data import lake
from include.features import schema
from include.monitoring import window
from include.monitoring.errors import MonitoringInputInvalid
from include.spec import UseCaseSpec, load_spec
from tests.conftest import ROOT

D1, D2, D3 = date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)
WIN = window.Window(D1, D3)
_NAMES = load_spec(ROOT / "usecase" / "fraud.yaml").names
EVENTS_FEED, LABELS_FEED = _NAMES.events_feed, _NAMES.labels_feed  # transactions, labels


@pytest.fixture(scope="module")
def spec() -> UseCaseSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml")


@pytest.fixture(scope="module")
def features(spec: UseCaseSpec) -> list[str]:
    return schema.model_features(schema.feature_spec(spec))


@pytest.fixture
def lake_uri(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


def _predictions(
    spec: UseCaseSpec, features: list[str], day: date, rows: int, unscored: int = 0, seed=0
) -> pd.DataFrame:
    """A predictions partition as include.scoring.batch writes it."""
    rng = np.random.default_rng(seed)
    n = rows + unscored
    names = spec.names
    scored = np.r_[np.ones(rows, bool), np.zeros(unscored, bool)]
    frame = pd.DataFrame(
        {
            names.tx_key: [f"tx-{day:%m%d}-{i:05d}" for i in range(n)],
            names.event_ts: pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.arange(n), "s"),
            "customer_id": rng.integers(1, 100, n),
            "merchant_id": rng.integers(1, 20, n),
            "score": np.where(scored, rng.random(n), np.nan),
            "decision": np.where(scored, "approve", "review"),
            "scored": scored,
            "unscored_reason": np.where(scored, None, "merchant_features_missing"),
            "model_name": "fraud_is_fraud",
            "model_version": "3",
            "threshold": 0.4,
            "scored_at": pd.Timestamp("2026-11-20", tz="UTC"),
        }
    )
    for f in features:
        frame[f] = np.where(scored, rng.random(n) * 10, np.nan)
    for as_of in schema.as_of_columns(schema.feature_spec(spec)):  # customer_, merchant_as_of
        frame[as_of] = frame[names.event_ts]
    return frame


def _write_predictions(lake_uri: str, day: date, frame: pd.DataFrame) -> str:
    uri = layout.predictions_uri(lake_uri, day)
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))
    return uri


def _record(tx: str, features: dict, *, scored: bool = True, score: float = 0.2) -> dict:
    """One capture record (serving/capture.py's docstring)."""
    return {
        "request_id": f"req-{tx}",
        "transaction_id": tx,
        "served_at": "2026-11-18T10:00:00+00:00",
        "model_name": "fraud_is_fraud",
        "model_version": 3,
        "features": features,
        "score": score if scored else None,
        "decision": "approve",
        "scored": scored,
        "unscored_reason": None if scored else "missing",
        "latency_ms": 2.1,
        "event_timestamp": "2026-11-18T09:59:59+00:00",
    }


def _write_capture(lake_uri: str, day: date, lines: list[str], name="part-1.jsonl") -> str:
    uri = storage.join(layout.capture_dir(lake_uri, day), name)
    storage.write_bytes(uri, ("\n".join(lines) + "\n").encode())
    return uri


# ------------------------------------------------------------------------------ resolve
def test_a_nightly_run_judges_the_complete_days_before_it() -> None:
    w = window.resolve(date(2026, 11, 20), 3)

    assert (w.first, w.last) == (D1, D3) and w.days == [D1, D2, D3]
    assert w.label == "2026-11-17_2026-11-19" and str(w) == "2026-11-17..2026-11-19"


def test_params_set_the_window() -> None:
    run_day = date(2026, 11, 20)

    assert window.resolve(run_day, 3, "2026-11-01", "2026-11-10") == window.Window(
        date(2026, 11, 1), date(2026, 11, 10)
    )
    assert window.resolve(run_day, 2, None, "2026-11-10") == window.Window(
        date(2026, 11, 9), date(2026, 11, 10)
    )
    assert window.resolve(run_day, 7, "2026-11-15", None) == window.Window(
        date(2026, 11, 15), date(2026, 11, 19)
    )
    with pytest.raises(ValueError, match="before it starts"):
        window.resolve(run_day, 3, "2026-11-10", "2026-11-01")


def test_the_matured_window_ends_the_maturity_before_the_newest_label_delivery() -> None:
    """Labels delivered daily up to 2026-11-30; 7 days of maturity (fraud.yaml's): the
    newest day whose labels have all matured is 11-23, so a 3-day window is 11-21..11-23."""
    deliveries = [date(2026, 11, 30) - timedelta(days=i) for i in range(14)]

    w = window.matured(deliveries[::-1], 3, 7)

    assert w == window.Window(date(2026, 11, 21), date(2026, 11, 23))
    # the newest delivery counts, however the days are ordered or spaced
    assert window.matured([date(2026, 11, 2), date(2026, 12, 2)], 3, 7) == window.Window(
        date(2026, 11, 23), date(2026, 11, 25)
    )
    # a fractional longest delay rounds up to whole days: 5.5 -> 6
    assert window.matured(deliveries, 1, 5.5) == window.Window(
        date(2026, 11, 24), date(2026, 11, 24)
    )
    assert window.matured([], 3, 7) is None


def test_a_nightly_run_judges_quality_on_the_matured_window_a_chosen_one_on_its_own() -> None:
    nightly = window.resolve(date(2026, 12, 1), 3)  # 11-28..11-30
    chosen = window.resolve(date(2026, 12, 1), 3, "2026-11-02", "2026-11-04")
    deliveries = [date(2026, 11, 17) + timedelta(days=i) for i in range(14)]  # to 11-30

    assert window.for_quality(nightly, deliveries, 7, chosen=False) == window.Window(
        date(2026, 11, 21), date(2026, 11, 23)
    )
    assert window.for_quality(chosen, deliveries, 7, chosen=True) == chosen
    assert window.for_quality(nightly, [], 7, chosen=False) == nightly  # no label yet


def test_the_matured_window_holds_only_matured_labels(lake_uri, spec) -> None:
    """Its last day is the newest one labelled() keeps whole: every transaction of 11-23 is
    matured on 11-30's delivery, none of 11-24's (the fraud spec's 7-day longest delay)."""
    names = spec.names
    assert spec.labels.max_delay_days == 7
    newest = date(2026, 11, 30)
    w = window.matured([newest], 1, spec.labels.max_delay_days)
    current = pd.DataFrame(
        {
            names.tx_key: ["first", "last", "next"],
            names.event_ts: pd.to_datetime(
                ["2026-11-23T00:00", "2026-11-23T23:59", "2026-11-24T00:01"], utc=True
            ),
            "score": [0.1, 0.2, 0.3],
        }
    )
    rows = [("first", "2026-11-30T01:00", 0), ("last", "2026-11-30T02:00", 0)]
    rows += [("next", "2026-11-30T03:00", 1)]
    storage.write_bytes(
        layout.partition_uri(lake_uri, LABELS_FEED, newest),
        lake.to_parquet_bytes(_labels(spec, rows)),
    )

    got = window.labelled(lake_uri, window.Window(w.first, newest), spec, current)

    assert w == window.Window(date(2026, 11, 23), date(2026, 11, 23))
    assert sorted(got[names.tx_key]) == ["first", "last"]


# ------------------------------------------------------------------------------- scored
def test_scored_reads_present_days_lists_missing_ones_and_drops_unscored_rows(
    lake_uri, spec, features
) -> None:
    _write_predictions(lake_uri, D1, _predictions(spec, features, D1, 30, unscored=5, seed=1))
    _write_predictions(lake_uri, D3, _predictions(spec, features, D3, 20, unscored=2, seed=3))

    got = window.scored(lake_uri, WIN, spec, features)

    assert got.days_present == ["2026-11-17", "2026-11-19"]
    assert got.days_missing == ["2026-11-18"]
    assert len(got.frame) == 50 and got.rows_total == 57
    assert got.frame["score"].notna().all() and got.frame[features].notna().all().all()
    assert got.model_versions == {"3": 50}
    expected = [spec.names.tx_key, spec.names.event_ts, "score", "scored", "model_version"]
    assert list(got.frame.columns) == [*expected, *features]


def test_a_window_with_no_scores_is_empty_with_every_day_missing(lake_uri, spec, features):
    got = window.scored(lake_uri, WIN, spec, features)

    assert got.frame.empty and got.rows_total == 0 and got.model_versions == {}
    assert got.days_missing == ["2026-11-17", "2026-11-18", "2026-11-19"]
    assert set(features) <= set(got.frame.columns)


def test_C7_a_partition_missing_a_feature_column_names_the_file_and_column(
    lake_uri, spec, features
) -> None:
    _write_predictions(lake_uri, D1, _predictions(spec, features, D1, 10))
    bad = _predictions(spec, features, D2, 10).drop(columns=["merchant_fraud_rate_30d"])
    uri = _write_predictions(lake_uri, D2, bad)

    with pytest.raises(MonitoringInputInvalid) as err:
        window.scored(lake_uri, WIN, spec, features)

    assert uri in str(err.value) and "merchant_fraud_rate_30d" in str(err.value)


def test_C7_a_non_numeric_feature_names_the_file_and_column(lake_uri, spec, features) -> None:
    bad = _predictions(spec, features, D2, 10)
    bad["hour_of_day"] = bad["hour_of_day"].map(lambda v: f"{v:.0f}h")
    uri = _write_predictions(lake_uri, D2, bad)

    with pytest.raises(MonitoringInputInvalid, match="non-numeric") as err:
        window.scored(lake_uri, WIN, spec, features)

    assert uri in str(err.value) and "hour_of_day" in str(err.value)


def test_C7_a_file_that_is_not_parquet_names_the_file(lake_uri, spec, features) -> None:
    uri = layout.predictions_uri(lake_uri, D1)
    storage.write_bytes(uri, b"transaction_id,score\nx,0.1\n")

    with pytest.raises(MonitoringInputInvalid, match="not a readable Parquet") as err:
        window.scored(lake_uri, WIN, spec, features)

    assert uri in str(err.value)


# ----------------------------------------------------------------------------- captured
def test_captured_reads_the_served_requests_as_numbers(lake_uri, spec, features) -> None:
    values = {f: float(i) for i, f in enumerate(features)}
    values[features[0]] = None  # a missing value is written as null
    _write_capture(
        lake_uri,
        D2,
        [
            json.dumps(_record("tx-a", values, score=0.7)),
            "",
            json.dumps(_record("tx-b", values, scored=False)),  # unscored: not compared
            json.dumps(_record("tx-a", values, score=0.7)),  # asked twice, counted twice
        ],
    )
    _write_capture(lake_uri, D3, ["not read"], name="notes.txt")  # not a part file

    got = window.captured(lake_uri, WIN, spec, features)

    assert got[spec.names.tx_key].tolist() == ["tx-a", "tx-a"]
    assert got["model_version"].tolist() == ["3", "3"] and got["score"].tolist() == [0.7, 0.7]
    assert np.isnan(got[features[0]]).all() and got[features[1]].tolist() == [1.0, 1.0]
    assert all(got[f].dtype == "float64" for f in features)


@pytest.mark.parametrize(
    "line",
    ["{not json", "[1, 2]", json.dumps({"scored": True, "features": {}})],
    ids=["broken_json", "not_an_object", "no_transaction_id"],
)
def test_C7_a_broken_capture_line_names_the_file_and_line(lake_uri, spec, features, line):
    good = json.dumps(_record("tx-a", {f: 1.0 for f in features}))
    uri = _write_capture(lake_uri, D2, [good, good, line, good])

    with pytest.raises(MonitoringInputInvalid) as err:
        window.captured(lake_uri, WIN, spec, features)

    assert f"{uri} line 3" in str(err.value)


def test_C7_a_non_numeric_captured_feature_names_the_file(lake_uri, spec, features) -> None:
    values = {f: 1.0 for f in features}
    values["hour_of_day"] = "ten"
    uri = _write_capture(lake_uri, D2, [json.dumps(_record("tx-a", values))])

    with pytest.raises(MonitoringInputInvalid) as err:
        window.captured(lake_uri, WIN, spec, features)

    assert uri in str(err.value) and "hour_of_day" in str(err.value)


def test_skew_pairs_align_by_transaction_id(spec) -> None:
    key, feats = spec.names.tx_key, ["a", "b"]
    offline = pd.DataFrame({key: ["t1", "t2", "t3"], "a": [1.0, 2.0, 3.0], "b": [10, 20, 30]})
    online = pd.DataFrame(
        {key: ["t3", "t9", "t1", "t3"], "a": [3.5, 9.0, 1.5, 3.5], "b": [31, 90, 11, 31]}
    )

    off, on = window.skew_pairs(online, offline, key, feats)

    # t9 was never scored in batch; t3 served twice is two pairs; order is the online order
    assert off.to_dict("list") == {"a": [3.0, 1.0, 3.0], "b": [30.0, 10.0, 30.0]}
    assert on.to_dict("list") == {"a": [3.5, 1.5, 3.5], "b": [31.0, 11.0, 31.0]}
    empty_off, empty_on = window.skew_pairs(online.iloc[:0], offline, key, feats)
    assert empty_off.empty and empty_on.empty and list(empty_off.columns) == feats


# ----------------------------------------------------------------------------- labelled
def _labels(spec: UseCaseSpec, rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    names = spec.names
    return pd.DataFrame(
        {
            names.tx_key: [r[0] for r in rows],
            names.label_ts: pd.to_datetime([r[1] for r in rows], utc=True),
            names.target: [r[2] for r in rows],
        }
    )


def test_labelled_keeps_the_newest_label_per_transaction(lake_uri, spec) -> None:
    names = spec.names
    current = pd.DataFrame(
        {
            names.tx_key: ["a", "b", "c", "d", "e"],
            names.event_ts: pd.to_datetime(
                ["2026-11-16T10:00", "2026-11-16T11:00", "2026-11-16T12:00"]
                + ["2026-11-16T13:00", "2026-11-20T09:00"],
                utc=True,
            ),
            "score": [0.1, 0.2, 0.3, 0.4, 0.5],
        }
    )
    day_before, later = D1 - timedelta(days=1), D3 + timedelta(days=4)
    for day, rows in {
        day_before: [("d", "2026-11-16T12:00", 1)],  # before the window: not read
        D2: [("a", "2026-11-18T12:00", 0), ("b", "2026-11-18T13:00", 0)],
        # "e" is a chargeback of a transaction younger than the longest label delay (7 d)
        # at the newest delivery: not matured, left out (its genuine peers have no label yet)
        later: [("b", "2026-11-23T08:00", 1), ("c", "2026-11-23T09:00", 0)]
        + [("e", "2026-11-23T10:00", 1)],
    }.items():
        uri = layout.partition_uri(lake_uri, LABELS_FEED, day)
        storage.write_bytes(uri, lake.to_parquet_bytes(_labels(spec, rows)))

    got = window.labelled(lake_uri, WIN, spec, current)

    assert list(got.columns) == [names.tx_key, "score", names.target]
    by_key = got.set_index(names.tx_key)
    assert by_key[names.target].to_dict() == {"a": 0, "b": 1, "c": 0}
    assert by_key["score"].to_dict() == {"a": 0.1, "b": 0.2, "c": 0.3}
    assert got[names.target].dtype == np.int64


def test_C7_a_label_partition_without_the_target_names_the_file(lake_uri, spec) -> None:
    current = pd.DataFrame(
        {
            spec.names.tx_key: ["a"],
            spec.names.event_ts: pd.to_datetime(["2026-11-16T10:00"], utc=True),
            "score": [0.1],
        }
    )
    uri = layout.partition_uri(lake_uri, LABELS_FEED, D2)
    frame = _labels(spec, [("a", "2026-11-18T12:00", 1)]).drop(columns=[spec.names.target])
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))

    with pytest.raises(MonitoringInputInvalid) as err:
        window.labelled(lake_uri, WIN, spec, current)

    assert uri in str(err.value) and spec.names.target in str(err.value)


# -------------------------------------------------------------------------- quarantined
def test_quarantined_lists_days_quarantined_and_never_published(lake_uri, spec) -> None:
    def quarantine(feed: str, day: date, run: str) -> None:
        folder = layout.quarantine_dir(lake_uri, feed, day, run)
        storage.write_bytes(storage.join(folder, layout.QUARANTINE_SUMMARY), b"{}")

    def publish(feed: str, day: date) -> None:
        frame = pd.DataFrame({spec.names.tx_key: ["x"]})
        storage.write_bytes(layout.partition_uri(lake_uri, feed, day), lake.to_parquet_bytes(frame))

    quarantine(EVENTS_FEED, D1, "scheduled__2026-11-18T00:00:00+00:00")
    publish(EVENTS_FEED, D1)  # fixed and re-landed: not a hole any more
    quarantine(EVENTS_FEED, D2, "scheduled__2026-11-19T00:00:00+00:00")
    quarantine(LABELS_FEED, D3, "manual__x")
    quarantine(LABELS_FEED, D3 + timedelta(days=1), "manual__y")  # outside the window
    Path(layout.quarantine_day_dir(lake_uri, LABELS_FEED, D1)).mkdir(parents=True)  # empty

    got = window.quarantined(lake_uri, WIN, [EVENTS_FEED, LABELS_FEED])

    assert got == {EVENTS_FEED: ["2026-11-18"], LABELS_FEED: ["2026-11-19"]}
    assert window.quarantined(lake_uri, window.Window(D1, D1), [EVENTS_FEED, LABELS_FEED]) == {}


def test_nothing_quarantined_is_an_empty_answer(lake_uri) -> None:
    assert window.quarantined(lake_uri, WIN, [EVENTS_FEED, LABELS_FEED]) == {}


def test_window_days_cross_a_month_end() -> None:
    w = window.Window(date(2026, 11, 29), date(2026, 12, 2))

    assert [d.isoformat() for d in w.days] == [
        "2026-11-29",
        "2026-11-30",
        "2026-12-01",
        "2026-12-02",
    ]


# ------------------------------------------------------- a window over max_read_rows
def _capped(spec: UseCaseSpec, max_read_rows: int) -> UseCaseSpec:
    import dataclasses

    monitoring = dataclasses.replace(spec.monitoring, max_read_rows=max_read_rows)
    return dataclasses.replace(spec, monitoring=monitoring)


def _write_in_row_groups(lake_uri: str, day: date, frame: pd.DataFrame) -> None:
    """As a big day's partition is written: several row groups (read one at a time)."""
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, row_group_size=250)
    storage.write_bytes(layout.predictions_uri(lake_uri, day), buf.getvalue())


def test_a_window_over_max_read_rows_is_read_as_a_stable_key_sample(
    lake_uri, spec, features
) -> None:
    for i, day in enumerate((D1, D2, D3)):
        frame = _predictions(spec, features, day, 1000, unscored=100, seed=i)
        _write_in_row_groups(lake_uri, day, frame)
    key = spec.names.tx_key
    whole = window.scored(lake_uri, WIN, spec, features)  # default cap: 2M, not reached

    got = window.scored(lake_uri, WIN, _capped(spec, 1500), features)
    again = window.scored(lake_uri, WIN, _capped(spec, 1500), features)
    fewer = window.scored(lake_uri, WIN, _capped(spec, 1000), features)

    assert whole.sampling.rate == 1.0 and len(whole.frame) == 3000
    assert got.rows_total == whole.rows_total == 3300  # the window's size stays exact
    assert got.sampling.rate == pytest.approx(1500 / 3300)
    # about rate x the 3,000 scored rows (binomial sd ~27), every one a scored row as read
    assert 1200 < len(got.frame) < 1530 and got.frame["scored"].all()
    kept = set(got.frame[key])
    assert kept < set(whole.frame[key])
    pd.testing.assert_frame_equal(
        got.frame.reset_index(drop=True),
        whole.frame[whole.frame[key].isin(kept)].reset_index(drop=True),
    )
    assert list(again.frame[key]) == list(got.frame[key])  # the same window, the same sample
    assert set(fewer.frame[key]) < kept  # a lower cap keeps a subset
    assert got.sampling.describe("scored transactions", key).startswith(f"{len(got.frame):,} of")


def test_a_sampled_window_keeps_the_same_transactions_in_capture_and_labels(
    lake_uri, spec, features
) -> None:
    names, key = spec.names, spec.names.tx_key
    frame = _predictions(spec, features, D2, 2000, seed=7)
    _write_in_row_groups(lake_uri, D2, frame)
    values = {f: 1.0 for f in features}
    _write_capture(lake_uri, D2, [json.dumps(_record(tx, values)) for tx in frame[key]])
    labels = [(tx, "2026-11-27T10:00", i % 2) for i, tx in enumerate(frame[key])]
    later = D3 + timedelta(days=8)  # every event matured by then
    storage.write_bytes(
        layout.partition_uri(lake_uri, LABELS_FEED, later),
        lake.to_parquet_bytes(_labels(spec, labels)),
    )
    whole = window.scored(lake_uri, WIN, spec, features)

    got = window.scored(lake_uri, WIN, _capped(spec, 1000), features)
    online = window.captured(lake_uri, WIN, spec, features, got.sampling.rate)
    labelled = window.labelled(lake_uri, WIN, spec, got.frame)

    kept = set(got.frame[key])
    assert 0 < len(kept) < 2000
    # the capture's sample is the scored window's: every skew pair among them, none else
    assert set(online[key]) == kept and len(online) == len(kept)
    off, on = window.skew_pairs(online, got.frame, key, features)
    assert len(off) == len(on) == len(kept)
    # labels: those of the kept transactions, exactly as the whole window's read has them
    full = window.labelled(lake_uri, WIN, spec, whole.frame)
    expected = full[full[key].isin(kept)].sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(labelled.sort_values(key, ignore_index=True), expected)
    assert names.target in labelled.columns
