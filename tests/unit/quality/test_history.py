"""History checks: batch-level changes no per-row rule sees, each named in words and numbers.

The feed's normal is 14 simulated days of the fraud spec; each test lands one more day as a
file (so the reading, the truncation and the arrival time are the ingest's own) and
validates it against that history with the real GX suites.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from devtools import simulator
from include import storage
from include.config import REPO_ROOT
from include.data.batches import _read_csv, coerce, read_batch
from include.privacy.pseudonym import Pseudonymiser
from include.quality.history import History
from include.quality.profile import partition_stats
from include.quality.validate import validate_batch
from include.spec import load_spec

START = dt.date(2026, 11, 1)
DAY = START + dt.timedelta(days=14)
IDS = ("customer_id", "merchant_id")
# The history's batches all landed one hour after their day ended.
ON_TIME = dt.timedelta(hours=1)
PSEUDO = Pseudonymiser(b"unit-test-key-of-32-bytes-length")


@pytest.fixture(scope="module")
def spec():
    return load_spec(REPO_ROOT / "usecase" / "fraud.yaml")


@pytest.fixture(scope="module")
def feed(spec):
    return spec.feed("transactions")


def typed(frame: pd.DataFrame, feed) -> pd.DataFrame:
    raw, _ = _read_csv(simulator.to_csv_bytes(frame))
    return coerce(raw, feed)


def landed_at(day: dt.date, after_end: dt.timedelta) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) + after_end


def stats_of(spec, feed, days: list[dt.date]) -> list[dict]:
    return [
        partition_stats(
            typed(simulator.simulate_transactions(spec, d), feed),
            feed,
            d,
            identifiers=IDS,
            arrived=landed_at(d, ON_TIME),
        )
        for d in days
    ]


@pytest.fixture(scope="module")
def normal(spec, feed) -> list[dict]:
    return stats_of(spec, feed, [START + dt.timedelta(days=i) for i in range(14)])


@pytest.fixture(scope="module")
def base(spec) -> pd.DataFrame:
    return simulator.simulate_transactions(spec, DAY)


def land(folder: Path, data: bytes, day: dt.date = DAY, after_end: dt.timedelta = ON_TIME):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.csv"
    path.write_bytes(data)
    stamp = landed_at(day, after_end).timestamp()
    os.utime(path, (stamp, stamp))
    return read_batch("transactions", day, storage.list_objects(str(folder)))


def validate(tmp_path: Path, feed, stats: list[dict], data: bytes, **land_kw):
    batch = land(tmp_path / "landing", data, **land_kw)
    history = History(feed, stats, IDS, profile_version=7)
    return validate_batch(
        batch, feed, gx_root=tmp_path / "gx", run_id="r", pseudonymiser=PSEUDO, history=history
    ).report


def csv(frame: pd.DataFrame) -> bytes:
    return simulator.to_csv_bytes(frame)


def flagged(report) -> list[str]:
    return [c.name for c in report.checks if not c.success]


def test_a_clean_day_passes_every_history_check_and_names_nothing(feed, normal, base, tmp_path):
    report = validate(tmp_path, feed, normal, csv(base))
    assert report.success and not flagged(report), flagged(report)
    assert report.causes == []
    assert report.profile_version == 7 and report.history_partitions == 14
    history_checks = [c for c in report.checks if c.stage == "history"]
    assert {c.history["check"] for c in history_checks} >= {
        "row_count",
        "quantiles",
        "category_share",
        "new_categories",
        "vanished_categories",
        "distinct_keys",
        "arrival_hours",
    }


@pytest.mark.parametrize("factor", [10, 100, 0.01])
def test_A10_a_unit_change_is_quarantined_and_named_with_its_ratio(
    feed, normal, base, tmp_path, factor
):
    shifted = base.assign(amount=(base["amount"] * factor).round(2).clip(lower=0.01))
    report = validate(tmp_path, feed, normal, csv(shifted))
    assert not report.success
    assert "history.quantiles(amount)" in {c.name for c in report.failed}
    first = report.causes[0]
    assert first.startswith("amount: median ") and first.endswith(": a unit change?"), first
    # The ratio named is the factor applied (to rounding): x10, x100, ÷100.
    sign, ratio = re.search(r"\((x|÷)([0-9.]+)\)", first).groups()
    named = float(ratio) if sign == "x" else 1 / float(ratio)
    assert named == pytest.approx(factor, rel=0.1)
    # Both medians are the real ones: the batch's and the history's.
    now, before = (
        base["amount"].median() * factor,
        pd.Series([s["quantiles"]["amount"]["0.5"] for s in normal]).median(),
    )
    numbers = [
        float(x.replace(",", ""))
        for x in re.findall(r"median ([0-9,.]+) against ([0-9,.]+)", first)[0]
    ]
    assert numbers[0] == pytest.approx(now, rel=0.02) and numbers[1] == pytest.approx(
        before, rel=0.01
    )


def test_A11_a_truncated_file_is_named_truncated_with_the_rows_missing(
    feed, normal, base, tmp_path
):
    data = csv(base)
    cut = data[: len(data) // 2]
    report = validate(tmp_path, feed, normal, cut)
    assert not report.success
    names = {c.name for c in report.failed}
    assert {"files_end_with_a_complete_line", "history.row_count"} <= names
    rows = cut.count(b"\n") - 1 + 1  # complete lines after the header, plus the cut one
    assert report.causes[0].startswith(f"{rows:,} rows against 10,000–10,000 over the last 14")
    assert "part-0.csv ends mid-line" in report.causes[0]
    assert report.causes[0].endswith("truncated?")


def test_A11_a_cut_file_is_named_truncated_even_when_nothing_else_fails(feed, tmp_path):
    """Without history (a feed's first day) the cut last line is still named."""
    rows = "transaction_id,event_timestamp\ntx_0000000000000001,2026-11-15T01:00:00+00:00\ntx_00"
    batch = land(tmp_path / "landing", rows.encode())
    report = validate_batch(
        batch, feed, gx_root=tmp_path / "gx", run_id="r", pseudonymiser=PSEUDO
    ).report
    assert not report.success
    assert report.causes == [
        "part-0.csv ends mid-line (its last line has 1 of 2 fields): truncated?"
    ]


def test_A12_half_the_usual_volume_is_quarantined_as_a_partial_delivery(
    feed, normal, base, tmp_path
):
    report = validate(tmp_path, feed, normal, csv(base.iloc[: len(base) // 2]))
    assert not report.success
    assert {c.name for c in report.failed} == {"history.row_count"}
    assert report.causes == [
        "5,000 rows against 10,000–10,000 over the last 14 published days: a partial delivery?"
    ]


def test_A13_a_category_share_shift_warns_and_names_the_shares(feed, normal, base, tmp_path):
    shifted = base.copy()
    shifted.loc[shifted.sample(frac=0.35, random_state=3).index, "channel"] = "atm"
    share = (shifted["channel"] == "atm").mean()
    before = pd.Series([s["categories"]["channel"]["atm"] for s in normal]).median()
    report = validate(tmp_path, feed, normal, csv(shifted))
    assert report.success  # a share shift warns: published, one mail
    assert "history.category_share(channel=atm)" in {c.name for c in report.warnings}
    expected = (
        f"channel 'atm' share {100 * share:.0f} % against {100 * before:.1f} % "
        "over the last 14 published days"
    )
    assert expected in report.causes


def test_A13_new_and_vanished_categories_are_named(feed, normal, base, tmp_path):
    changed = base[base["channel"] != "atm"].copy()
    changed.loc[changed.sample(frac=0.05, random_state=4).index, "country"] = "ZZ"
    report = validate(tmp_path, feed, normal, csv(changed))
    warned = {c.name for c in report.warnings}
    assert {"history.new_categories(country)", "history.vanished_categories(channel)"} <= warned
    assert any(
        c.startswith("country: 5.0 % of rows hold values never seen") and "'ZZ'" in c
        for c in report.causes
    ), report.causes
    assert any(c.startswith("channel: no 'atm' in the batch, against ") for c in report.causes), (
        report.causes
    )


def test_A14_a_null_share_jump_within_the_spec_limit_is_quarantined(
    spec, feed, normal, base, tmp_path
):
    # A spec that allows half the countries to be empty: the per-row rule passes 20 %.
    loose = replace(
        feed,
        columns={
            **feed.columns,
            "country": replace(feed.column("country"), max_null_fraction=0.5),
        },
    )
    holed = base.copy()
    holed.loc[holed.sample(frac=0.2, random_state=5).index, "country"] = None
    share = holed["country"].isna().mean()
    before = max(s["nulls"]["country"] for s in normal)
    report = validate(tmp_path, loose, normal, csv(holed))
    assert not report.success
    assert {c.name for c in report.failed} == {"history.null_share(country)"}
    (cause,) = report.causes
    now, most = re.fullmatch(
        r"country: ([0-9.]+) % empty against at most ([0-9.]+) % over the last 14 published days",
        cause,
    ).groups()
    assert float(now) == pytest.approx(100 * share, abs=0.5)
    assert float(most) == pytest.approx(100 * before, abs=0.01)


def test_A15_a_late_batch_warns_and_says_how_late(feed, normal, base, tmp_path):
    report = validate(tmp_path, feed, normal, csv(base), after_end=dt.timedelta(hours=30))
    assert report.success
    assert [c.name for c in report.warnings] == ["history.arrival_hours"]
    assert report.causes == [
        "landed 30.0 h after its day ended, against at most 1.0 h over the last 14 published "
        "days: late"
    ]


def test_a_young_history_only_warns_even_for_a_unit_change(feed, normal, base, tmp_path):
    shifted = base.assign(amount=base["amount"] * 10)
    report = validate(tmp_path, feed, normal[:3], csv(shifted))
    assert report.success
    assert "history.quantiles(amount)" in {c.name for c in report.warnings}
    assert report.causes[0].endswith("a unit change?")


def test_without_history_no_history_check_runs(feed, base, tmp_path):
    report = validate(tmp_path, feed, [], csv(base))
    assert report.success and report.history_partitions == 0
    assert not [c for c in report.checks if c.history]


def test_A16_clean_days_are_never_flagged_over_30_simulated_days(spec, feed, tmp_path):
    """The false-alarm rate on clean data with its natural day-to-day variation: each of 30
    days against its own last 14, as ingest would compare them."""
    days = [START + dt.timedelta(days=i) for i in range(44)]
    stats = stats_of(spec, feed, days)
    alarms = {}
    for i in range(14, 44):
        frame = simulator.simulate_transactions(spec, days[i])
        report = validate(
            tmp_path / days[i].isoformat(), feed, stats[i - 14 : i], csv(frame), day=days[i]
        )
        if flagged(report):
            alarms[days[i].isoformat()] = report.causes or flagged(report)
    assert alarms == {}


def test_A10_drift_built_up_over_days_is_published_and_the_same_step_overnight_quarantined(
    spec, feed, normal, tmp_path
):
    """Real covariate drift builds up; the whole batch moving at once is a batch-level
    change. The same shift (amounts x1.8 and a channel mix moving online) is quarantined as a
    step, and published (for monitoring to judge) when it builds up over three days."""
    step = simulator.Drift(covariate=0.8, start=DAY)
    frame = simulator.simulate_transactions(spec, DAY, drift=step)
    report = validate(tmp_path / "step", feed, normal, csv(frame))
    assert not report.success and "history.quantiles(amount)" in {c.name for c in report.failed}
    assert re.search(r"^amount: median .* \(x1\.[78][0-9]*\)$", report.causes[0]), report.causes
    ramp = simulator.Drift(covariate=0.8, start=DAY, ramp_days=3)
    stats, quarantined = list(normal), []
    for i in range(3):
        d = DAY + dt.timedelta(days=i)
        frame = simulator.simulate_transactions(spec, d, drift=ramp)
        report = validate(tmp_path / f"ramp{i}", feed, stats[-14:], csv(frame), day=d)
        quarantined += [c.name for c in report.failed]
        stats.append(
            partition_stats(
                typed(frame, feed), feed, d, identifiers=IDS, arrived=landed_at(d, ON_TIME)
            )
        )
    assert quarantined == []
    assert stats[-1]["quantiles"]["amount"]["0.5"] > 1.7 * stats[0]["quantiles"]["amount"]["0.5"]


def test_A17_an_accepted_partial_delivery_is_validated_in_full_and_published(
    feed, normal, base, tmp_path
):
    """The row count band fails on the raw text, before the content checks: for a batch a
    person accepted it must not stop them (the batch is published typed and checked)."""
    batch = land(tmp_path / "landing", csv(base.iloc[-20:]))
    history = History(feed, normal, IDS, profile_version=7)
    decision = {"by": "ops", "at": "2026-12-07T09:00:00+00:00", "comment": "a quiet day"}
    outcome = validate_batch(
        batch,
        feed,
        gx_root=tmp_path / "gx",
        run_id="r",
        pseudonymiser=PSEUDO,
        history=history,
        accepted=decision,
    )
    assert outcome.report.success and outcome.typed is not None and len(outcome.typed) == 20
    assert "content" in outcome.report.gx_results
    (rows,) = [c for c in outcome.report.checks if c.name == "history.row_count"]
    assert not rows.success and rows.action == "warn"
    assert (
        rows.message
        == "accepted as the new normal by ops at 2026-12-07T09:00:00+00:00: a quiet day"
    )
