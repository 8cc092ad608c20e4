"""Validation on tiny frames: each check fails on what it should, and only on that."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from include.data.batches import BatchFile, RawBatch
from include.privacy.pseudonym import Pseudonymiser, is_pseudonym
from include.quality.validate import validate_batch
from include.spec import load_spec

DAY = date(2026, 11, 20)
PSEUDO = Pseudonymiser(b"unit-test-key-of-32-bytes-length")


@pytest.fixture(scope="module")
def feed():
    return load_spec().feed("transactions")


def _rows(n: int = 20) -> list[dict[str, str]]:
    return [
        {
            "transaction_id": f"tx_{i:016x}",
            "event_timestamp": f"2026-11-20T{i % 24:02d}:15:00+00:00",
            "customer_id": f"cus_{i + 1:06d}",
            "merchant_id": "7",
            "amount": f"{10 + i}.50",
            "currency": "EUR",
            "channel": "pos",
            "merchant_category": "grocery",
            "country": "DE",
            "customer_age_band": "26-35",
        }
        for i in range(n)
    ]


def _batch(rows: list[dict], columns: list[str] | None = None) -> RawBatch:
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    info = BatchFile("mem://b.csv", 100, "x", tuple(frame.columns), len(frame))
    return RawBatch("transactions", DAY, [info], frame)


def _validate(batch: RawBatch, feed, tmp_path: Path, existing=None):
    return validate_batch(
        batch,
        feed,
        gx_root=tmp_path / "gx",
        run_id="r1",
        existing_keys=existing,
        pseudonymiser=PSEUDO,
    )


def _failed(outcome) -> set[str]:
    return {c.name for c in outcome.report.failed}


def test_given_a_clean_batch_when_validated_then_it_passes_typed(feed, tmp_path) -> None:
    out = _validate(_batch(_rows()), feed, tmp_path)
    assert out.report.success, _failed(out)
    assert out.typed is not None and len(out.typed) == 20
    assert str(out.typed["merchant_id"].dtype) == "Int64"
    # The pii column is published as pseudonyms only (the raw ids stay in landing).
    assert out.typed["customer_id"].map(is_pseudonym).all()
    assert out.typed["customer_id"].iloc[0] == PSEUDO.value("cus_000001")
    assert str(out.typed["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (out.docs_dir / "index.html").exists()


def test_A1_missing_column_fails_the_schema_and_stops(feed, tmp_path) -> None:
    rows = [{k: v for k, v in r.items() if k != "amount"} for r in _rows()]
    out = _validate(_batch(rows), feed, tmp_path)
    assert _failed(out) == {"expect_table_columns_to_match_set"}
    assert out.typed is None
    assert "content" not in out.report.gx_results  # structure failed: no noise from content


def test_A1_extra_column_is_rejected_by_default_and_dropped_by_policy(feed, tmp_path) -> None:
    rows = [{**r, "promo_code": "X"} for r in _rows()]
    assert _failed(_validate(_batch(rows), feed, tmp_path)) == {"expect_table_columns_to_match_set"}
    from dataclasses import replace

    lenient = replace(feed, extra_columns="drop")
    out = _validate(_batch(rows), lenient, tmp_path)
    assert out.report.success and out.report.dropped_columns == ["promo_code"]
    assert "promo_code" not in out.typed.columns


def test_A2_nulls_above_threshold_fail_and_below_pass_with_rate_logged(feed, tmp_path) -> None:
    rows = _rows(100)
    for r in rows[:10]:
        r["merchant_category"] = None  # 10 % > 2 %
    out = _validate(_batch(rows), feed, tmp_path)
    assert _failed(out) == {"expect_column_values_to_not_be_null(merchant_category)"}
    check = out.report.failed[0]
    assert check.unexpected_count == 10 and len(check.sample_keys) == 10
    rows = _rows(100)
    rows[0]["merchant_category"] = None  # 1 % < 2 %
    out = _validate(_batch(rows), feed, tmp_path)
    assert out.report.success
    assert out.report.null_rates["merchant_category"] == pytest.approx(0.01)


def test_A3_wrong_types_are_caught_on_the_raw_text_with_keys(feed, tmp_path) -> None:
    rows = _rows()
    rows[3]["amount"] = "abc"
    rows[5]["customer_id"] = "x12"
    out = _validate(_batch(rows), feed, tmp_path)
    assert _failed(out) == {
        "expect_column_values_to_match_regex(amount)",
        "expect_column_values_to_match_regex(customer_id)",
    }
    by_name = {c.name: c for c in out.report.failed}
    assert by_name["expect_column_values_to_match_regex(amount)"].sample_keys == [
        "tx_0000000000000003"
    ]
    assert by_name["expect_column_values_to_match_regex(amount)"].sample_values == ["abc"]


@pytest.mark.parametrize("bad", ["-5.00", "999999999", "inf"])
def test_A3_out_of_range_and_infinite_amounts_fail(feed, tmp_path, bad) -> None:
    rows = _rows()
    rows[2]["amount"] = bad
    assert _failed(_validate(_batch(rows), feed, tmp_path)) == {
        "expect_column_values_to_be_between(amount)"
    }


def test_A3_nan_amount_fails_completeness(feed, tmp_path) -> None:
    rows = _rows()
    rows[2]["amount"] = None  # a NaN written to CSV is an empty cell
    assert _failed(_validate(_batch(rows), feed, tmp_path)) == {
        "expect_column_values_to_not_be_null(amount)"
    }


def test_A4_empty_and_header_only_batches_fail_the_row_count(feed, tmp_path) -> None:
    header_only = _batch([], columns=list(_rows(1)[0]))
    assert _failed(_validate(header_only, feed, tmp_path)) == {
        "expect_table_row_count_to_be_between"
    }
    empty = _batch([])  # a 0-byte file: no columns at all
    assert _failed(_validate(empty, feed, tmp_path)) == {
        "expect_table_row_count_to_be_between",
        "expect_table_columns_to_match_set",
    }


def test_A6_duplicate_keys_fail_uniqueness_with_the_keys(feed, tmp_path) -> None:
    rows = _rows()
    rows.append(dict(rows[4]))
    out = _validate(_batch(rows), feed, tmp_path)
    assert _failed(out) == {"expect_column_values_to_be_unique(transaction_id)"}
    assert out.report.failed[0].sample_keys == ["tx_0000000000000004"] * 2


def test_late_rows_within_lateness_pass_and_beyond_fail(feed, tmp_path) -> None:
    rows = _rows()
    rows[0]["event_timestamp"] = "2026-11-19T22:00:00+00:00"  # 2 h late: accepted
    assert _validate(_batch(rows), feed, tmp_path).report.success
    rows[1]["event_timestamp"] = "2026-11-12T10:00:00+00:00"  # 8 days late: rejected
    assert _failed(_validate(_batch(rows), feed, tmp_path)) == {
        "expect_column_values_to_be_between(event_timestamp)"
    }


def test_a_batch_of_only_old_rows_fails_freshness(feed, tmp_path) -> None:
    rows = _rows()
    for r in rows:
        r["event_timestamp"] = "2026-11-19T10:00:00+00:00"
    assert _failed(_validate(_batch(rows), feed, tmp_path)) == {
        "expect_column_max_to_be_between(event_timestamp)"
    }


def test_A5_keys_already_published_elsewhere_fail_the_history_check(feed, tmp_path) -> None:
    existing = {"2026-11-19": {"tx_0000000000000001", "tx_0000000000000002"}}
    out = _validate(_batch(_rows()), feed, tmp_path, existing=lambda: existing)
    assert _failed(out) == {"keys_not_already_ingested(transaction_id)"}
    assert out.report.failed[0].unexpected_count == 2
    assert out.report.failed[0].observed == {"already_in_partitions": {"2026-11-19": 2}}


def test_naive_timestamps_are_read_as_utc(feed, tmp_path) -> None:  # A8
    rows = _rows()
    for r in rows:
        r["event_timestamp"] = r["event_timestamp"].replace("+00:00", "")
    out = _validate(_batch(rows), feed, tmp_path)
    assert out.report.success
    assert str(out.typed["event_timestamp"].dt.tz) == "UTC"


def test_report_is_json_serialisable(feed, tmp_path) -> None:
    import json

    rows = _rows()
    rows[1]["amount"] = "-1"
    json.dumps(_validate(_batch(rows), feed, tmp_path).report.to_dict())


def test_A9_an_oversized_batch_is_refused_before_it_is_loaded(feed, tmp_path) -> None:
    from dataclasses import replace

    from include import storage
    from include.data.batches import read_batch

    path = tmp_path / "landing" / "big.csv"
    path.parent.mkdir()
    pd.DataFrame(_rows(200)).to_csv(path, index=False)
    tiny = replace(feed, max_batch_mb=0.001)  # ~1 KB
    files = storage.list_objects(str(path.parent))
    batch = read_batch("transactions", DAY, files, max_bytes=tiny.max_batch_mb * 1024 * 1024)
    assert batch.frame.empty and batch.files[0].error == "not loaded: batch too large"
    out = _validate(batch, tiny, tmp_path)
    assert _failed(out) == {"batch_size_within_limit"}
    assert out.report.gx_results == {}
