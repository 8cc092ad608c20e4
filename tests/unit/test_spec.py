"""The use-case spec loader: typed sections, and a clear error for every malformed spec.

Given the bundled ``usecase/fraud.yaml``, when it is loaded, then every section is a typed,
frozen dataclass with the values written there (and the defaults of the sections it leaves
out). Given a copy with one mistake, when it is loaded, then a :class:`SpecError` names the
file and the dotted key of the mistake, before any stage could run on it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from include.spec import (
    CANDIDATE_FAMILIES,
    METRICS,
    FeaturesSpec,
    LabelsSpec,
    ModelSpec,
    MonitoringSpec,
    ServingSpec,
    SimulatorSpec,
    SpecError,
    SplitSpec,
    load_spec,
)
from tests.conftest import ROOT

BUNDLED = ROOT / "usecase" / "fraud.yaml"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(BUNDLED.read_text())


def _write(tmp_path: Path, raw: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> Path:
    """A copy of the bundled spec with one change applied."""
    edited = copy.deepcopy(raw)
    change(edited)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(edited))
    return path


# ------------------------------------------------------------------------ the bundled spec
def test_the_bundled_spec_loads_with_typed_values() -> None:
    spec = load_spec(BUNDLED)

    assert spec.model == ModelSpec(
        target="is_fraud",
        registered_name="fraud_is_fraud",
        split=SplitSpec(train=0.7, validation=0.15, holdout=0.15),
        primary_metric="pr_auc",
        promotion_margin=0.005,
        recall_at_fpr=0.01,
        slice_metric="roc_auc",
        max_slice_gap=0.10,
        min_slice_rows=200,
        min_training_rows=5000,
        min_positives=50,
        candidates=("xgboost", "pytorch_mlp"),
        tuning_budget=4,
        champion_alias="champion",
        challenger_alias="challenger",
        minimums={"pr_auc": 0.20, "roc_auc": 0.75},
        rejection_mail_cooldown_hours=24.0,
    )
    assert spec.labels == LabelsSpec(
        chargeback_delay_min_days=1.0, chargeback_delay_max_days=5.0, maturity_days=7
    )
    assert spec.labels.max_delay_days == 7.0
    assert spec.features == FeaturesSpec(
        project="fraud_detection",
        feature_service="fraud_detection_v1",
        customer_windows_days=(1, 7, 30),
        merchant_window_days=30,
        ttl_days=30,
        entities={"customer": "customer_id", "merchant": "merchant_id"},
        materialize_overlap_days=2,
    )
    assert isinstance(spec.simulator, SimulatorSpec)
    assert spec.simulator.seed == 42 and spec.simulator.rows_per_day == 10_000
    assert spec.simulator.countries[:2] == ("DE", "FR")
    # serving's threshold follows the rate the gate judged recall at, unless set
    assert spec.serving == ServingSpec(target_false_positive_rate=spec.model.recall_at_fpr)
    assert spec.monitoring == MonitoringSpec(retrain_window_days=14)


def test_the_spec_names_the_columns_code_joins_and_splits_on() -> None:
    names = load_spec(BUNDLED).names

    assert (names.tx_key, names.event_ts, names.label_ts, names.target) == (
        "transaction_id",
        "event_timestamp",
        "label_timestamp",
        "is_fraud",
    )
    assert names.entities == {"customer": "customer_id", "merchant": "merchant_id"}


def test_sections_are_frozen() -> None:
    spec = load_spec(BUNDLED)

    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model.min_training_rows = 1  # type: ignore[misc]


def test_the_spec_vocabularies_match_the_code() -> None:
    """The spec lists them so loading stays cheap; they must be what the code knows."""
    from include.modeling.metrics import METRICS as CODE_METRICS
    from include.training import mlp, xgb

    assert set(CANDIDATE_FAMILIES) == {xgb.FAMILY, mlp.FAMILY}
    assert tuple(METRICS) == tuple(CODE_METRICS)


def test_sections_left_out_take_their_defaults(tmp_path: Path, raw) -> None:
    def drop(r: dict[str, Any]) -> None:
        for key in ("serving", "monitoring", "simulator", "alerts"):
            r.pop(key, None)
        r["model"]["recall_at_fpr"] = 0.02
        del r["model"]["rejection_mail_cooldown_hours"]

    spec = load_spec(_write(tmp_path, raw, drop))

    assert spec.serving.target_false_positive_rate == 0.02
    assert spec.monitoring == MonitoringSpec()
    assert spec.model.rejection_mail_cooldown_hours == 24.0
    assert spec.simulator is None  # a production spec need not describe a simulator
    assert spec.alerts.recipients == ()


# ----------------------------------------------------------------------- malformed specs
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, with ``...``, delete) the dotted key ``path``."""

    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # a missing model key
        (_set("model.registered_name", ...), r"model\.registered_name is missing"),
        (_set("model.min_training_rows", ...), r"model\.min_training_rows is missing"),
        (_set("model", ...), r": model is missing"),
        # a split that does not sum to 1
        (
            _set("model.split", {"train": 0.7, "validation": 0.2, "holdout": 0.2}),
            r"model\.split fractions must each be > 0 and sum to 1",
        ),
        (
            _set("model.split", {"train": 0.85, "validation": 0.15}),
            r"model\.split\.holdout is missing",
        ),
        # an unknown candidate family
        (
            _set("model.candidates", ["xgboost", "lightgbm"]),
            r"model\.candidates names unknown \['lightgbm'\]; known: \['xgboost', 'pytorch_mlp'\]",
        ),
        (_set("model.candidates", []), r"model\.candidates must be a non-empty list"),
        # a non-numeric threshold
        (_set("model.promotion_margin", "high"), r"model\.promotion_margin must be a number, got"),
        (_set("model.minimums.pr_auc", "0.2"), r"model\.minimums\.pr_auc must be a number"),
        (_set("model.max_slice_gap", True), r"model\.max_slice_gap must be a number"),
        (_set("model.min_slice_rows", 2.5), r"model\.min_slice_rows must be a whole number"),
        # out of range, unknown names, misspelt keys
        (_set("model.recall_at_fpr", 1.5), r"model\.recall_at_fpr must be < 1, got 1\.5"),
        (_set("model.primary_metric", "f1"), r"model\.primary_metric must be one of"),
        (_set("model.minimums.f1", 0.5), r"model\.minimums has unknown keys \['f1'\]"),
        (_set("model.promotion_margn", 0.1), r"model has unknown keys \['promotion_margn'\]"),
        (_set("model.target", "fraud"), r"model\.target 'fraud' is not a column of feeds\.labels"),
        (
            _set("labels.chargeback_delay_days", {"min": 5, "max": 1}),
            r"labels\.chargeback_delay_days\.max must be >= 5, got 1",
        ),
        (_set("labels.maturity_days", ...), r"labels\.maturity_days is missing"),
        (
            _set("features.entities.customer", "card_id"),
            r"features\.entities\.customer 'card_id' is not a column of feeds\.transactions",
        ),
        (_set("features.entities", ...), r"features\.entities is missing"),
        (
            _set("features.customer_windows_days", [1, 0]),
            r"features\.customer_windows_days\[1\] must be distinct whole days >= 1",
        ),
        (_set("monitoring.drift_share", 0), r"monitoring\.drift_share must be > 0"),
        (
            _set("serving", {"target_false_positive_rate": "1%"}),
            r"serving\.target_false_positive_rate must be a number, got '1%'",
        ),
        (_set("simulator.merchants", 3), r"simulator\.merchants must be >= one per country"),
        (_set("modle", {}), r"has unknown keys \['modle'\]"),
        (
            _set("feeds.labels.key", "event_timestamp"),
            r"feeds\.labels\.key must be feeds\.transactions\.key \('transaction_id'\)",
        ),
    ],
)
def test_a_malformed_spec_names_the_file_and_the_key(tmp_path: Path, raw, change, message) -> None:
    path = _write(tmp_path, raw, change)

    with pytest.raises(SpecError, match=message) as err:
        load_spec(path)

    assert str(err.value).startswith(f"{path}: ")


def test_a_split_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        SplitSpec(train=0.5, validation=0.5, holdout=0.5)
