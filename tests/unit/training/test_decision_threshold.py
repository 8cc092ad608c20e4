"""The decision threshold fixed at training time (fault C14), on constructed scores.

Rule under test (:func:`include.modeling.metrics.threshold_at_fpr`): the lowest observed
score ``t`` such that ``score >= t`` flags at most ``target_fpr`` of the negatives; ties are
never split; when nothing can be flagged, ``t`` lies just above the highest score.
"""

from __future__ import annotations

import numpy as np
import pytest

from include.modeling.metrics import classification_metrics, recall_at_fpr, threshold_at_fpr


def _brute_force(y: np.ndarray, p: np.ndarray, target: float) -> float:
    """The lowest candidate whose FPR is within the target, by trying every one."""
    negatives = p[y == 0]
    for t in [*np.unique(p), np.nextafter(p.max(), np.inf)]:
        if (negatives >= t).sum() / len(negatives) <= target:
            return float(t)
    raise AssertionError("unreachable: above the highest score nothing is flagged")


def test_C14_the_target_fpr_is_hit_exactly_when_the_scores_allow_it() -> None:
    # given 100 negatives with distinct scores 0.00 .. 0.99 and 4 frauds around the top
    negatives = np.arange(100) / 100
    frauds = np.array([0.995, 0.965, 0.955, 0.5])
    y = np.r_[np.zeros(100, int), np.ones(4, int)]
    p = np.r_[negatives, frauds]

    # when the threshold is fixed at a 5 % false-positive rate
    point = threshold_at_fpr(y, p, 0.05)

    # then exactly 5 negatives (0.95 .. 0.99) are flagged, and 3 of the 4 frauds
    assert point.threshold == 0.95
    assert point.fpr == 0.05
    assert point.recall == 0.75
    assert (point.negatives, point.positives, point.target_fpr) == (100, 4, 0.05)
    flagged = p >= point.threshold
    assert flagged[y == 0].mean() == point.fpr and flagged[y == 1].mean() == point.recall


def test_C14_ties_are_never_split_and_the_fpr_stays_within_the_target() -> None:
    # given 100 negatives: 4 distinct high scores, then 3 tied at 0.9 straddling the 5 % budget
    negatives = np.r_[[0.99, 0.98, 0.97, 0.96], [0.9, 0.9, 0.9], np.linspace(0.0, 0.5, 93)]
    frauds = np.array([0.97, 0.9, 0.95])  # one tied with the negatives at 0.9
    y = np.r_[np.zeros(100, int), np.ones(3, int)]
    p = np.r_[negatives, frauds]

    point = threshold_at_fpr(y, p, 0.05)

    # then the tie stays unflagged as a whole (7 % would exceed 5 %): the threshold is the
    # next score above it, a fraud's 0.95, which flags 4 negatives (4 %), the closest below
    assert point.threshold == 0.95
    assert point.fpr == 0.04
    assert point.recall == pytest.approx(2 / 3)
    # and a budget that takes the whole tie flags the tied fraud too
    wide = threshold_at_fpr(y, p, 0.07)
    assert (wide.threshold, wide.fpr, wide.recall) == (0.9, 0.07, 1.0)


def test_C14_a_fraud_tied_with_the_last_allowed_negative_is_flagged() -> None:
    y = np.array([0, 0, 0, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.8])

    point = threshold_at_fpr(y, p, 0.25)

    assert (point.threshold, point.fpr, point.recall) == (0.8, 0.25, 1.0)


@pytest.mark.parametrize(
    ("y", "p", "target", "threshold", "fpr", "recall"),
    [
        # all negative: a threshold, no recall
        ([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], 0.25, 0.4, 0.25, None),
        # target 0: just above the highest negative; frauds above it are still caught
        ([0, 0, 1, 1], [0.1, 0.4, 0.3, 0.9], 0.0, 0.9, 0.0, 0.5),
        # target 1: the lowest score, everything flagged
        ([0, 0, 1, 1], [0.1, 0.4, 0.3, 0.9], 1.0, 0.1, 1.0, 1.0),
        # too few negatives for the budget and a negative on top: nothing can be flagged
        ([0] * 10 + [1], [0.95] + [0.1] * 9 + [0.9], 0.01, np.nextafter(0.95, 1), 0.0, 0.0),
        # a negative tied at the top with a fraud: neither can be flagged alone
        ([0, 0, 1], [0.2, 1.0, 1.0], 0.4, np.nextafter(1.0, 2), 0.0, 0.0),
    ],
)
def test_C14_edge_cases(y, p, target, threshold, fpr, recall) -> None:
    point = threshold_at_fpr(np.array(y), np.array(p), target)

    assert point.threshold == threshold
    assert point.fpr == fpr
    assert point.recall == recall


def test_C14_without_negatives_or_with_bad_input_there_is_no_threshold() -> None:
    with pytest.raises(ValueError, match="no negative"):
        threshold_at_fpr(np.array([1, 1]), np.array([0.2, 0.9]), 0.01)
    with pytest.raises(ValueError, match="finite"):
        threshold_at_fpr(np.array([0, 1]), np.array([np.nan, 0.9]), 0.01)
    with pytest.raises(ValueError, match=r"not in \[0, 1\]"):
        threshold_at_fpr(np.array([0, 1]), np.array([0.2, 0.9]), 1.5)
    with pytest.raises(ValueError, match="shape"):
        threshold_at_fpr(np.array([0, 1, 0]), np.array([0.2, 0.9]), 0.01)


def test_C14_a_larger_budget_never_raises_the_threshold_nor_lowers_recall() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(20, 400))
        y = (rng.random(n) < 0.1).astype(int)
        y[0], y[1] = 0, 1
        p = np.round(rng.beta(1, 3, n) + 0.3 * y, int(rng.integers(1, 4))).clip(0, 1)
        points = [threshold_at_fpr(y, p, t) for t in (0.0, 0.001, 0.01, 0.02, 0.1, 0.5, 1.0)]
        for low, high in zip(points, points[1:], strict=False):
            assert high.threshold <= low.threshold
            assert high.recall >= low.recall
            assert high.fpr >= low.fpr
        for point in points:
            assert point.fpr <= point.target_fpr
            assert point.threshold == _brute_force(y, p, point.target_fpr)


def test_the_gates_recall_at_fpr_is_the_recall_at_the_stored_threshold() -> None:
    """One definition: the metric the gate judges and the threshold serving uses agree, also
    where scikit-learn's roc_curve would drop a collinear point (rounded, tied scores)."""
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(50, 400))
        y = (rng.random(n) < 0.2).astype(int)
        y[0], y[1] = 0, 1
        p = np.round(rng.random(n), 2)
        point = threshold_at_fpr(y, p, 0.01)
        fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
        assert recall_at_fpr(y, p, 0.01) == point.recall == pytest.approx(tpr[fpr <= 0.01].max())
        assert classification_metrics(y, p, fpr_target=0.01)["recall_at_fpr"] == point.recall
