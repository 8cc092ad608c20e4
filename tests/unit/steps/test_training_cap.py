"""The training set's cap (``model.max_training_rows``): beyond it, a uniform sample by event
key hash, drawn while the partitions are read, the same for the same window.

Given six simulated days published into a lake (maturity 2 days: four matured days of 3,000
events), ``build_training_set`` runs with the point-in-time join replaced by the identity:
the join keeps one row per entity row (``FeatureRowsDropped`` otherwise, tested in
tests/unit/features), so the training set's rows and labels are the sampled entity rows.
Tolerances come from the binomial: each key is kept with probability ``rate``, independently
of its label, so the kept count is Binomial(N, rate) and the positives' share differs from
the window's by a standard error of sqrt(p (1 - p) (1 - rate) / n); 4.5 standard errors
(a false alarm once in ~150,000 draws) bound both.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
import yaml

from devtools import simulator
from devtools.trained_platform import small_spec
from devtools.trial import environment
from include import layout, storage
from include.data import lake
from include.data.batches import coerce
from include.spec import load_spec

DAYS = [date(2026, 10, 20) + timedelta(days=i) for i in range(6)]
ROWS = 3000
CAP = 6000  # of ~12,000 matured labelled events: rate 0.5
Z = 4.5


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Six days of events and their labels in a lake; a spec and a registry per module."""
    root = tmp_path_factory.mktemp("capped")
    spec_path = small_spec(root / "spec.yaml")
    env = {
        "MLOPS_DATA_ROOT": str(root / "data"),
        "MLOPS_USECASE_SPEC": str(spec_path),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
    }
    with environment(env):
        from include.config import get_settings

        spec, lake_uri = load_spec(), get_settings().lake_uri
        for day in DAYS:
            frames = {
                spec.names.events_feed: simulator.simulate_transactions(spec, day, rows=ROWS),
                spec.names.labels_feed: simulator.simulate_labels(
                    spec, day, rows=ROWS, since=DAYS[0]
                ),
            }
            for feed, frame in frames.items():
                uri = layout.partition_uri(lake_uri, feed, day)
                storage.write_bytes(uri, lake.to_parquet_bytes(coerce(frame, spec.feed(feed))))
        yield {"root": root, "env": env, "spec_path": spec_path, "lake_uri": lake_uri}


def _with_cap(platform: dict[str, Any], cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = yaml.safe_load(platform["spec_path"].read_text())
    raw["model"]["max_training_rows"] = cap
    path = platform["root"] / f"spec-cap-{cap}.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("MLOPS_USECASE_SPEC", str(path))


@pytest.fixture
def build(platform, monkeypatch) -> Any:
    """``build_training_set(window_days, cap=...)`` → (result, training set frame), with
    every day featured and the point-in-time join the identity."""
    from include.features import tables, training_set
    from include.steps import train_model

    for name, value in platform["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tables, "existing_partitions", lambda _uri, _view: list(DAYS))
    monkeypatch.setattr(training_set, "historical_features", lambda entity: entity)
    monkeypatch.setattr(train_model, "_check_splittable", lambda *_args: None)
    runs = iter(range(1_000))

    def run(window_days: int = len(DAYS), *, cap: int, **kw: Any) -> tuple[dict, Any]:
        _with_cap(platform, cap, monkeypatch)
        result = train_model.build_training_set(window_days, f"run_{next(runs)}", **kw)
        frame = pd.read_parquet(io.BytesIO(storage.read_bytes(result["uri"])))
        return result, frame

    return run


@pytest.fixture(scope="module")
def whole(platform) -> dict[str, Any]:
    """What the uncapped window holds (filled by the first test that needs it)."""
    return {}


def _uncapped(build, whole) -> pd.DataFrame:
    if "frame" not in whole:
        result, whole["frame"] = build(cap=10**9)
        assert result["lineage"]["sampled"] == "-"
    return whole["frame"]


def test_a_window_over_the_cap_trains_on_a_uniform_sample_of_about_the_cap(
    build, whole, platform
) -> None:
    full = _uncapped(build, whole)
    result, capped = build(cap=CAP)
    rate = float(result["lineage"]["sampling_rate"])
    # the rate comes from the footers of the fully matured partitions (cutoff: day 4)
    footer_rows = sum(
        lake.partition_rows(platform["lake_uri"], "transactions", d) for d in DAYS[:4]
    )
    assert footer_rows == 4 * ROWS
    assert rate == pytest.approx(CAP / footer_rows)
    n, big_n = len(capped), len(full)
    assert big_n > 1.5 * CAP  # the cap bites
    assert abs(n - rate * big_n) <= Z * math.sqrt(big_n * rate * (1 - rate))
    # a sample of the window: its rows, with their labels
    assert set(capped["transaction_id"]) <= set(full["transaction_id"])
    merged = capped.merge(full, on="transaction_id", suffixes=("", "_all"))
    assert (merged["is_fraud"] == merged["is_fraud_all"]).all()
    # uniform, not class-aware: the positives' share is the window's
    p = full["is_fraud"].mean()
    assert abs(capped["is_fraud"].mean() - p) <= Z * math.sqrt(p * (1 - p) * (1 - rate) / n)
    assert result["rows"] == n and result["positives"] == int(capped["is_fraud"].sum())
    assert result["lineage"]["sampled"] == (
        f"{n:,} of about {round(n / rate):,} matured labelled events "
        f"(rate {rate:.4g}, by hash of transaction_id)"
    )


def test_the_same_window_gives_the_same_sample(build) -> None:
    first, a = build(cap=CAP)
    second, b = build(cap=CAP)
    assert first["uri"] != second["uri"]
    pd.testing.assert_frame_equal(a, b)


def test_a_window_under_the_cap_is_untouched(build, whole) -> None:
    full = _uncapped(build, whole)
    result, frame = build(cap=len(full) * 2)
    assert result["lineage"]["sampled"] == "-"
    assert result["lineage"]["sampling_rate"] == "1.0"
    pd.testing.assert_frame_equal(frame, full)


def _judged(platform: dict[str, Any], result: dict[str, Any]) -> None:
    """``result``'s training set registered as v1, promoted, the champion (as the gate
    leaves it), with the lineage tags the training run puts on the version."""
    from include.modeling import tracking

    spec = load_spec()
    name = spec.model.registered_name
    client = tracking.configure(platform["env"]["MLFLOW_TRACKING_URI"]).MlflowClient()
    client.create_registered_model(name)
    client.create_model_version(
        name,
        source="runs:/x/model",
        tags={**tracking.lineage_tags(result["lineage"]), "gate.decision": "promoted"},
    )
    client.set_registered_model_alias(name, spec.model.champion_alias, "1")


def test_C19_an_unchanged_capped_window_still_skips(build, platform) -> None:
    """The newest judged version was trained on the capped window up to day 4 (three
    matured days, rate 2/3): that window again skips before the join; so does the window
    that lost its oldest day (two matured days, under the cap: every key, also those the
    judged sample left out by design, which are no news); the next labels day (a fourth
    matured day) trains, and so does a person's run."""
    from include.steps.train_model import TrainingSetUnchanged

    end = DAYS[4].isoformat()
    judged, _ = build(cap=CAP, end=end)
    assert float(judged["lineage"]["sampling_rate"]) == pytest.approx(CAP / (3 * ROWS))
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        _judged(platform, judged)
        with pytest.raises(TrainingSetUnchanged, match=r"each of the \d+ labelled events"):
            build(cap=CAP, end=end, only_if_new=True)
        with pytest.raises(TrainingSetUnchanged, match=r"sampled at its rate, 0.6667"):
            build(len(DAYS) - 2, cap=CAP, end=end, only_if_new=True)
        newer, _ = build(cap=CAP, end=DAYS[5].isoformat(), only_if_new=True)
        assert newer["lineage"]["data_partitions"].endswith(DAYS[5].isoformat())
        build(cap=CAP, end=end, only_if_new=False)
    finally:
        from include.modeling import tracking

        tracking.mlflow_module().set_tracking_uri(previous)
