"""Unit tests of the simulator's fault *injector*: each fault lands on both feeds and reads
back as ingestion reads it (text CSV). These test the tool that makes bad data, not the
platform's handling of it, so they carry no fault-model id (docs/fault-model.md): the A-series
tests that do are the ingest tests that feed these batches through the DAGs."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from devtools import faults
from devtools import simulator as sim
from include.spec import UseCaseSpec, load_spec

ROOT = Path(__file__).resolve().parents[3]
DAY = dt.date(2026, 11, 20)
ROWS = 600
# Labels have no nullable column: the null faults must refuse them.
NOT_FOR_LABELS = {
    "nulls_above_threshold",
    "nulls_below_threshold",
    "null_share_jump",  # labels have no nullable column
    "unit_x10",  # nor a quantity (is_fraud is a set of values)
    "unit_x100",
    "unit_div100",
}


@pytest.fixture(scope="module")
def spec() -> UseCaseSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml")


def _land(spec: UseCaseSpec, root: Path, feed: str, fault: str | None, day=DAY) -> list[Path]:
    return [
        Path(u) for u in sim.land(spec, feed, day, landing_uri=str(root), rows=ROWS, fault=fault)
    ]


def _text(path: Path) -> pd.DataFrame:
    """The file as the ingestion sees it: every cell text, empty cells null."""
    return pd.read_csv(
        io.BytesIO(path.read_bytes()), dtype=str, keep_default_na=False, na_values=[""]
    )


def _clean(spec: UseCaseSpec, tmp_path: Path, feed: str) -> pd.DataFrame:
    return _text(_land(spec, tmp_path / "clean", feed, None)[0])


FEEDS_AND_FAULTS = [
    (feed, name)
    for feed in sim.FEEDS
    for name in faults.FAULTS
    if not (feed == "labels" and name in NOT_FOR_LABELS)
]


def test_registry_documents_every_fault() -> None:
    # Every registered fault appears in the module's table with what catches it.
    for name, fault in faults.FAULTS.items():
        assert fault.name == name and name in (faults.__doc__ or "") and fault.caught_by


@pytest.mark.parametrize(("feed", "name"), FEEDS_AND_FAULTS)
def test_fault_is_deterministic_and_differs_from_clean(
    spec: UseCaseSpec, tmp_path: Path, feed: str, name: str
) -> None:
    # When a fault is landed twice into two landing zones
    a = _land(spec, tmp_path / "a", feed, name)
    b = _land(spec, tmp_path / "b", feed, name)
    clean = _land(spec, tmp_path / "clean", feed, None)
    # Then both are byte-identical, and the folder differs from the clean landing
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a] != [p.read_bytes() for p in clean]


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_missing_column_drops_a_required_column(
    spec: UseCaseSpec, tmp_path: Path, feed: str
) -> None:
    (path,) = _land(spec, tmp_path, feed, "missing_column")
    dropped = set(spec.feed(feed).column_names) - set(_text(path).columns)
    assert dropped == {"amount" if feed == "transactions" else "is_fraud"}
    assert not spec.feed(feed).column(dropped.pop()).nullable


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_extra_column_adds_an_unknown_column(
    spec: UseCaseSpec, tmp_path: Path, feed: str
) -> None:
    (path,) = _land(spec, tmp_path, feed, "extra_column")
    columns = list(_text(path).columns)
    assert columns == [*spec.feed(feed).column_names, faults.EXTRA_COLUMN]


def test_injector_nulls_above_threshold_exceeds_the_limit(
    spec: UseCaseSpec, tmp_path: Path
) -> None:
    (path,) = _land(spec, tmp_path, "transactions", "nulls_above_threshold")
    col = spec.feed("transactions").column("merchant_category")
    share = _text(path)[col.name].isna().mean()
    assert share >= 0.10 > col.max_null_fraction


def test_injector_nulls_below_threshold_stays_inside_the_limit(
    spec: UseCaseSpec, tmp_path: Path
) -> None:
    (path,) = _land(spec, tmp_path, "transactions", "nulls_below_threshold")
    feed = spec.feed("transactions")
    frame = _text(path)
    clean = _clean(spec, tmp_path, "transactions")
    share = frame["merchant_category"].isna().mean()
    assert clean["merchant_category"].isna().mean() < share <= 0.5 * 0.02
    for col in feed.column_specs:  # every column stays within its limit: the batch must pass
        assert frame[col.name].isna().mean() <= col.max_null_fraction


def test_injector_null_faults_refuse_a_feed_without_nullable_columns(
    spec: UseCaseSpec, tmp_path: Path
) -> None:
    for name in NOT_FOR_LABELS:
        why = "no numeric column" if name.startswith("unit_") else "no nullable column"
        with pytest.raises(ValueError, match=why):
            _land(spec, tmp_path, "labels", name)
    assert not (tmp_path / "labels").exists()  # nothing written on refusal


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_wrong_types_put_text_in_numeric_columns(
    spec: UseCaseSpec, tmp_path: Path, feed: str
) -> None:
    (path,) = _land(spec, tmp_path, feed, "wrong_types")
    frame = _text(path)
    numeric = [c.name for c in spec.feed(feed).column_specs if c.dtype in ("int", "float")]
    bad = {c: frame.loc[pd.to_numeric(frame[c], errors="coerce").isna(), c] for c in numeric}
    if feed == "transactions":
        assert set(bad["amount"]) == {"abc"} and len(bad["amount"]) == 5
        assert len(bad["merchant_id"]) == 5 and bad["merchant_id"].str.startswith("x").all()
    else:
        assert len(bad["is_fraud"]) == 5 and bad["is_fraud"].str.match(r"^x[01]$").all()


def test_injector_out_of_range_puts_negative_huge_nan_and_inf_in_amount(
    spec: UseCaseSpec, tmp_path: Path
) -> None:
    (path,) = _land(spec, tmp_path, "transactions", "out_of_range")
    amount = _text(path)["amount"]
    values = pd.to_numeric(amount, errors="coerce")
    col = spec.feed("transactions").column("amount")
    assert amount.isna().sum() == 1  # NaN lands as an empty cell
    assert (values < col.min).sum() >= 1 and (values > col.max).sum() >= 1
    assert np.isposinf(values).sum() == 1 and np.isneginf(values).sum() == 1


def test_injector_out_of_range_puts_values_outside_the_label_set(
    spec: UseCaseSpec, tmp_path: Path
) -> None:
    (path,) = _land(spec, tmp_path, "labels", "out_of_range")
    assert set(_text(path)["is_fraud"]) - {"0", "1"} == {"2", "-1"}


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_empty_file_is_zero_bytes(spec: UseCaseSpec, tmp_path: Path, feed: str) -> None:
    (path,) = _land(spec, tmp_path, feed, "empty_file")
    assert path.stat().st_size == 0


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_header_only_has_no_rows(spec: UseCaseSpec, tmp_path: Path, feed: str) -> None:
    (path,) = _land(spec, tmp_path, feed, "header_only")
    assert path.read_text() == ",".join(spec.feed(feed).column_names) + "\n"


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_duplicate_delivery_lands_yesterdays_file_again(
    spec: UseCaseSpec, tmp_path: Path, feed: str
) -> None:
    # When today is landed with a duplicate delivery
    today, extra = _land(spec, tmp_path / "faulty", feed, "duplicate_delivery")
    # Then today's normal file is there, plus yesterday's clean file byte for byte
    yesterday = DAY - dt.timedelta(days=1)
    (clean_today,) = _land(spec, tmp_path / "clean", feed, None)
    (clean_yesterday,) = _land(spec, tmp_path / "clean", feed, None, day=yesterday)
    assert today.read_bytes() == clean_today.read_bytes()
    assert extra.parent == today.parent and extra.name == f"{feed}-{yesterday.isoformat()}.csv"
    assert extra.read_bytes() == clean_yesterday.read_bytes()


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_duplicate_keys_repeat_rows_with_the_same_key(
    spec: UseCaseSpec, tmp_path: Path, feed: str
) -> None:
    (path,) = _land(spec, tmp_path, feed, "duplicate_keys")
    frame, key = _text(path), spec.feed(feed).key
    repeats = frame[key].duplicated().sum()
    assert repeats >= 3 and len(frame) == len(_clean(spec, tmp_path, feed)) + repeats
    assert frame.duplicated().sum() == repeats  # whole rows repeated, as a double send


@pytest.mark.parametrize("feed", sim.FEEDS)
def test_injector_late_rows_fall_beyond_the_allowed_lateness(
    spec: UseCaseSpec, tmp_path: Path, feed: str
) -> None:
    (path,) = _land(spec, tmp_path, feed, "late_rows")
    fs = spec.feed(feed)
    ts = pd.to_datetime(_text(path)[fs.timestamp], utc=True, format="ISO8601")
    start = pd.Timestamp(DAY, tz="UTC")
    too_late = ts < start - pd.Timedelta(hours=fs.allowed_lateness_hours)
    assert 0.02 <= too_late.mean() <= 0.04
    assert ts[too_late].min() >= start - pd.Timedelta(days=10)
    assert ts[too_late].max() <= start - pd.Timedelta(days=3)


def test_unknown_fault_lists_the_known_ones(spec: UseCaseSpec) -> None:
    frame = sim.simulate_transactions(spec, DAY, rows=10)
    with pytest.raises(ValueError, match="known: missing_column"):
        faults.apply_fault("gremlins", frame, spec.feed("transactions"), np.random.default_rng(0))


def test_faults_need_rows(spec: UseCaseSpec) -> None:
    empty = sim.simulate_transactions(spec, DAY, rows=0)
    with pytest.raises(ValueError, match="at least"):
        faults.late_rows(empty, spec.feed("transactions"), np.random.default_rng(0))
