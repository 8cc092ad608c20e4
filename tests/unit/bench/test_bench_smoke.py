"""The bench's pandas floor stays honest: it fails exactly the checks GX fails.

Given tiny simulated transaction batches (clean, each applicable catalogue fault, and the
bench's planted-fault batch), when both stages run through GX (the project's expectation
lists) and through the pandas floor of ``bench.validation``, then both name the same checks,
fail the same ones and count the same unexpected values. Nothing is timed here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import validation
from devtools import simulator
from devtools.faults import FAULTS
from include.data.batches import coerce
from include.quality.suites import interval_bounds
from include.spec import load_spec
from tests.conftest import ROOT

ROWS = 2_000
DAY = validation.BATCH_DAY
# duplicate_delivery leaves this day's file clean (the history check catches it, no suite).
# Per-row faults: GX and the pandas reference judge one batch alone. Batch-level faults
# (unit changes, a cut file, ...) need the feed's history: tests/unit/quality/test_history.py.
FAULT_NAMES = [n for n in FAULTS if n != "duplicate_delivery" and not FAULTS[n].batch_level]
ACCEPTED = {"nulls_below_threshold"}  # a fault both must let through


@pytest.fixture(scope="module")
def spec():
    return load_spec(ROOT / "usecase" / "fraud.yaml")


@pytest.fixture(scope="module")
def clean_frame(spec):
    return simulator.simulate_transactions(spec, DAY, rows=ROWS)


@pytest.fixture(scope="module")
def gx():
    return validation.GxChecks()


def _agreement(label, frame_or_bytes, spec, gx, tmp_path: Path):
    feed = spec.events_feed
    batch = validation.write_batch(frame_or_bytes, feed, tmp_path / "landing", DAY)
    typed = coerce(batch.frame, feed)
    gx_checks, _ = gx.run(batch.frame, typed, feed, DAY)
    pd_checks, _ = validation.pandas_checks(batch.frame, typed, feed, DAY)
    return validation.compare(label, gx_checks, pd_checks)


def test_clean_batch_passes_both(spec, clean_frame, gx, tmp_path) -> None:
    agreement = _agreement("clean", clean_frame, spec, gx, tmp_path)

    assert agreement.agree, agreement.line()
    assert agreement.gx_failing == []


def test_planted_faults_fail_the_same_checks(spec, clean_frame, gx, tmp_path) -> None:
    feed = spec.events_feed
    faulted = validation.plant_faults(clean_frame, feed, np.random.default_rng(7))

    agreement = _agreement("planted", faulted, spec, gx, tmp_path)

    assert agreement.agree, agreement.line()
    # Every kind of check has something to find: a floor that passes everything must fail.
    failing = " ".join(agreement.gx_failing)
    for kind in ("match_set", "match_regex", "be_unique", "not_be_null", "be_between", "in_set"):
        assert kind in failing, f"no failing {kind} check: {agreement.gx_failing}"


def test_boundary_values_are_judged_alike(spec, clean_frame, gx, tmp_path) -> None:
    """Range bounds are inclusive, the event-time window excludes its end: both must agree."""
    feed = spec.events_feed
    frame = clean_frame.copy()
    for i, col in enumerate(
        c for c in feed.column_specs if c.min is not None and c.max is not None
    ):
        frame.loc[2 * i, col.name] = col.min
        frame.loc[2 * i + 1, col.name] = col.max
    earliest, _, end = interval_bounds(feed, DAY)
    frame.loc[len(frame) - 2, feed.timestamp] = pd.Timestamp(earliest)
    frame.loc[len(frame) - 1, feed.timestamp] = pd.Timestamp(end)

    agreement = _agreement("boundaries", frame, spec, gx, tmp_path)

    assert agreement.agree, agreement.line()
    assert agreement.gx_failing == [
        f"content:expect_column_max_to_be_between({feed.timestamp})",
        f"content:expect_column_values_to_be_between({feed.timestamp})",
    ]


@pytest.mark.parametrize("fault", FAULT_NAMES)
def test_each_catalogue_fault_fails_the_same_checks(spec, clean_frame, gx, tmp_path, fault):
    feed = spec.events_feed
    result = FAULTS[fault].apply(clean_frame, feed, np.random.default_rng(3))

    agreement = _agreement(fault, result, spec, gx, tmp_path)

    assert agreement.agree, agreement.line()
    if fault in ACCEPTED:
        assert agreement.gx_failing == []
    else:
        assert agreement.gx_failing, f"{fault} went unnoticed by both"
