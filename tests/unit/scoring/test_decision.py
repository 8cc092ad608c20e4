"""The batch scoring rules on tiny frames (include/scoring/decision.py).

A scored row is ``review`` at or above the version's stored threshold and ``approve`` below;
a row without a customer or merchant feature row at or before its time within the TTL is not
scored (D7): it gets the spec's unscored decision and says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from include.scoring.decision import decide, unscored_reasons

T0 = pd.Timestamp("2026-10-25 12:00", tz="UTC")
TTL = pd.Timedelta(days=30)
KEYS = {"customer": "customer_id", "merchant": "merchant_id"}


# ----------------------------------------------------------------------------- decide
def test_a_score_at_the_threshold_is_reviewed_and_below_it_approved() -> None:
    scores = np.array([0.2, 0.5, 0.5000001, 0.4999999, 0.0, 1.0])
    scored = np.ones(6, dtype=bool)

    decisions = decide(scores, scored, threshold=0.5, unscored="review")

    assert decisions.tolist() == ["approve", "review", "review", "approve", "approve", "review"]


@pytest.mark.parametrize("unscored", ["review", "approve"])
def test_D7_an_unscored_row_gets_the_specs_decision_whatever_its_score(unscored) -> None:
    # given a row that is not scored (NaN) and one whose score must be ignored (not scored)
    scores = np.array([0.9, np.nan, 0.01, 0.99])
    scored = np.array([True, False, False, True])

    decisions = decide(scores, scored, threshold=0.5, unscored=unscored)

    assert decisions.tolist() == ["review", unscored, unscored, "review"]


def test_decide_refuses_an_unknown_decision_or_a_scored_row_without_score() -> None:
    with pytest.raises(ValueError, match="not one of"):
        decide(np.array([0.1]), np.array([True]), 0.5, unscored="block")
    with pytest.raises(ValueError, match="has no score"):
        decide(np.array([np.nan]), np.array([True]), 0.5, unscored="review")
    with pytest.raises(ValueError, match="scores for"):
        decide(np.array([0.1, 0.2]), np.array([True]), 0.5, unscored="review")


# ------------------------------------------------------------------- unscored_reasons
def _entity(rows: list[tuple[int, int, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "merchant_id", "event_timestamp"])


def _stamps(key: str, rows: list[tuple[int, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[key, "event_timestamp"])


def _reasons(entity: pd.DataFrame, stamps: dict[str, pd.DataFrame]) -> list:
    return unscored_reasons(
        entity, "event_timestamp", KEYS, stamps, "event_timestamp", TTL
    ).tolist()


def test_D7_rows_with_feature_rows_at_or_before_them_within_the_ttl_are_scored() -> None:
    # given customer rows at the transaction's own time and merchant rows before it, the
    # oldest exactly one TTL old (Feast's TTL is inclusive)
    entity = _entity([(1, 10, T0), (2, 20, T0)])
    stamps = {
        "customer": _stamps("customer_id", [(1, T0), (2, T0)]),
        "merchant": _stamps("merchant_id", [(10, T0 - pd.Timedelta(days=1)), (20, T0 - TTL)]),
    }

    assert _reasons(entity, stamps) == [None, None]


def test_D7_missing_and_expired_entities_are_flagged_never_filled() -> None:
    entity = _entity(
        [
            (1, 10, T0),  # fine
            (3, 10, T0),  # customer 3 has no row at all
            (1, 30, T0),  # merchant 30's newest row is older than the TTL
            (4, 40, T0),  # customer 4 and merchant 40 only have rows *after* T0: no future
            (5, 99, T0),  # merchant 99 unknown, customer 5 expired
        ]
    )
    stamps = {
        "customer": _stamps(
            "customer_id",
            [(1, T0), (4, T0 + pd.Timedelta(seconds=1)), (5, T0 - TTL - pd.Timedelta(seconds=1))],
        ),
        "merchant": _stamps(
            "merchant_id",
            [
                (10, T0 - pd.Timedelta(hours=2)),
                (30, T0 - pd.Timedelta(days=31)),
                (40, T0 + pd.Timedelta(hours=1)),
            ],
        ),
    }

    assert _reasons(entity, stamps) == [
        None,
        "customer_features_missing",
        "merchant_features_expired",
        "customer_features_missing,merchant_features_missing",
        "customer_features_expired,merchant_features_missing",
    ]


def test_D7_an_entity_without_any_table_is_missing_and_the_index_is_kept() -> None:
    entity = _entity([(1, 10, T0), (2, 10, T0)]).set_axis([5, 9])
    stamps = {"customer": _stamps("customer_id", [(1, T0)])}  # no merchant rows at all

    reasons = unscored_reasons(entity, "event_timestamp", KEYS, stamps, "event_timestamp", TTL)

    assert reasons.index.tolist() == [5, 9]
    assert reasons.tolist() == [
        "merchant_features_missing",
        "customer_features_missing,merchant_features_missing",
    ]


def test_stamps_of_another_resolution_or_zone_are_compared_as_instants() -> None:
    entity = _entity([(1, 10, T0.tz_convert("Europe/Berlin"))])
    stamps = {
        "customer": _stamps("customer_id", [(1, T0)]).astype(
            {"event_timestamp": "datetime64[us, UTC]"}
        ),
        "merchant": _stamps("merchant_id", [(10, T0 - pd.Timedelta(microseconds=1))]),
    }

    assert _reasons(entity, stamps) == [None]


def test_D7_text_join_keys_are_compared_as_text_not_cast_to_numbers() -> None:
    """A tail number or an airport code keys an entity as well as an integer id does."""
    times = pd.to_datetime(["2026-11-20 10:00"] * 3, utc=True)
    flights = pd.DataFrame({"tailnum": ["N14228", "N24211", "007"], "ts": times})
    stamps = pd.DataFrame(
        {
            "tailnum": ["N14228", "7"],  # "7" is not "007": text keys are not numbers
            "stamp": pd.to_datetime(["2026-11-20 09:00", "2026-11-20 09:00"], utc=True),
        }
    )
    reasons = unscored_reasons(
        flights, "ts", {"aircraft": "tailnum"}, {"aircraft": stamps}, "stamp", pd.Timedelta(days=1)
    )
    assert reasons.tolist() == [None, "aircraft_features_missing", "aircraft_features_missing"]
