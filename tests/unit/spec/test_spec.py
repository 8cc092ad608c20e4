"""The use-case spec loader: typed sections, and a clear error for every malformed spec.

Given the bundled ``usecase/fraud.yaml``, when it is loaded, then every section is a typed,
frozen dataclass with the values written there (and the defaults of the sections it leaves
out). Given a copy with one mistake, when it is loaded, then a :class:`SpecError` names the
file and the dotted key of the mistake, before any stage could run on it.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from include.spec import (
    CANDIDATE_FAMILIES,
    METRICS,
    REQUEST_TRANSFORMS,
    AggregationSpec,
    LabelsSpec,
    MonitoringSpec,
    ServingSpec,
    SimulatorSpec,
    SpecError,
    SplitSpec,
    json_schema,
    load_spec,
    problems_of,
)
from include.spec.sections import DelaySpec
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

    assert spec.model.target == "is_fraud" and spec.model.registered_name == "fraud_is_fraud"
    assert spec.model.split == SplitSpec(train=0.7, validation=0.15, holdout=0.15)
    assert spec.model.candidates == ("xgboost", "pytorch_mlp")
    assert spec.model.minimums == {"pr_auc": 0.20, "roc_auc": 0.75}
    assert spec.labels == LabelsSpec(delay_days=DelaySpec(min=1, max=5), maturity_days=7)
    assert spec.labels.max_delay_days == 7
    features = spec.features
    assert (features.project, features.feature_service, features.ttl_days) == (
        "fraud_detection",
        "fraud_detection_v1",
        30,
    )
    assert features.join_keys == {"customer": "customer_id", "merchant": "merchant_id"}
    assert features.windows == (1, 7, 30)
    merchant = features.entities["merchant"]
    assert (merchant.view, merchant.stamps) == ("merchant_daily_stats", "daily")
    assert merchant.aggregations[1] == AggregationSpec(
        name="merchant_fraud_rate_{w}d",
        function="mean",
        windows=(30,),
        column="is_fraud",
        source="labels",
    )
    assert [t.function for t in features.request.transforms] == ["ratio", "hour_of_day"]
    amount = spec.feed("transactions").column("amount")
    assert (amount.name, amount.dtype, amount.min, amount.max) == ("amount", "float", 0.01, 50000)
    assert spec.request_fields == ["amount"]
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

    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError)):
        spec.model.min_training_rows = 1  # type: ignore[misc]


def test_the_spec_vocabularies_match_the_code() -> None:
    """The spec lists them so loading stays cheap; they must be what the code knows."""
    from include.features.request_time import TRANSFORMS
    from include.modeling.metrics import METRICS as CODE_METRICS
    from include.training import mlp, xgb

    assert set(CANDIDATE_FAMILIES) == {xgb.FAMILY, mlp.FAMILY}
    assert tuple(METRICS) == tuple(CODE_METRICS)
    assert set(REQUEST_TRANSFORMS) == set(TRANSFORMS)
    for name, arity in REQUEST_TRANSFORMS.items():  # the spec checks inputs by these counts
        assert TRANSFORMS[name].__code__.co_argcount == arity, name


def test_sections_left_out_take_their_defaults(tmp_path: Path, raw) -> None:
    def drop(r: dict[str, Any]) -> None:
        for key in ("serving", "monitoring", "simulator", "source", "alerts"):
            r.pop(key, None)
        r["model"]["recall_at_fpr"] = 0.02
        del r["model"]["rejection_mail_cooldown_hours"]

    spec = load_spec(_write(tmp_path, raw, drop))

    assert spec.serving.target_false_positive_rate == 0.02
    assert spec.monitoring == MonitoringSpec()
    assert spec.model.rejection_mail_cooldown_hours == 24.0
    assert spec.model.max_training_rows == 2_000_000  # commented out in the bundled spec
    assert spec.simulator is None  # a production spec need not describe a simulator
    assert spec.alerts.recipients == ()


# ----------------------------------------------------------------------- malformed specs
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, with ``...``, delete) the dotted key ``path``."""

    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[int(key) if key.isdigit() else key]
        last = int(last) if last.isdigit() else last
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # a missing model key
        (_set("model.registered_name", ...), r"model\.registered_name: is missing"),
        (_set("model.min_training_rows", ...), r"model\.min_training_rows: is missing"),
        (_set("model", ...), r": model: is missing"),
        # a training-set cap below the training minimum: no window could ever train
        (
            _set("model.max_training_rows", 100),
            r"max_training_rows \(100\) is below min_training_rows \(5000\)",
        ),
        (_set("model.max_training_rows", 0), r"model\.max_training_rows: "),
        # a split that does not sum to 1
        (
            _set("model.split", {"train": 0.7, "validation": 0.2, "holdout": 0.2}),
            r"model\.split: fractions must sum to 1",
        ),
        (
            _set("model.split", {"train": 0.85, "validation": 0.15}),
            r"model\.split\.holdout: is missing",
        ),
        # an unknown candidate family
        (
            _set("model.candidates", ["xgboost", "lightgbm"]),
            r"model\.candidates\[1\]: must be one of 'xgboost' or 'pytorch_mlp', got 'lightgbm'",
        ),
        (_set("model.candidates", []), r"model\.candidates: .*at least 1 item"),
        # a non-numeric threshold
        (
            _set("model.promotion_margin", "high"),
            r"model\.promotion_margin: must be a number",
        ),
        (_set("model.minimums.pr_auc", "0.2"), r"model\.minimums\.pr_auc: must be a number"),
        (_set("model.max_slice_gap", True), r"model\.max_slice_gap: must be a number"),
        (_set("model.min_slice_rows", 2.5), r"model\.min_slice_rows: must be a whole number"),
        # out of range, unknown names, misspelt keys
        (_set("model.recall_at_fpr", 1.5), r"model\.recall_at_fpr: must be less than 1, got 1\.5"),
        (_set("model.primary_metric", "f1"), r"model\.primary_metric: must be one of"),
        (
            _set("model.minimums.f1", 0.5),
            r"model\.minimums\.f1: is not a known key: it must be one of 'pr_auc'",
        ),
        (
            _set("model.promotion_margn", 0.1),
            r"model\.promotion_margn: unknown key \(did you mean 'promotion_margin'\?\)",
        ),
        (_set("model.target", "fraud"), r"model\.target: 'fraud' is not a column of feeds\.labels"),
        (
            _set("labels.delay_days", {"min": 5, "max": 1}),
            r"labels\.delay_days: min \(5\) is above max \(1\)",
        ),
        (_set("labels.maturity_days", ...), r"labels\.maturity_days: is missing"),
        (
            _set("features.entities.customer.join_key", "card_id"),
            r"features\.entities\.customer\.join_key: 'card_id' is not a column of "
            r"feeds\.transactions",
        ),
        (_set("features.entities", ...), r"features\.entities: is missing"),
        (
            _set("features.entities.customer.aggregations.0.windows", [1, 0]),
            r"features\.entities\.customer\.aggregations\[0\]\.windows\[1\]: "
            r"must be greater than or equal to 1",
        ),
        (_set("monitoring.drift_share", 0), r"monitoring\.drift_share: must be greater than 0"),
        (
            _set("serving", {"target_false_positive_rate": "1%"}),
            r"serving\.target_false_positive_rate: must be a number, got '1%'",
        ),
        (_set("simulator.merchants", 3), r"simulator: merchants must be >= len\(countries\)"),
        (_set("modle", {}), r"modle: unknown key \(did you mean 'model'\?\)"),
        (
            _set("feeds.labels.key", "event_timestamp"),
            r"feeds\.labels\.key: must be feeds\.transactions\.key \('transaction_id'\)",
        ),
        (
            _set("feeds.transactions.columns.amount", "float"),
            r"feeds\.transactions\.columns\.amount: expected a mapping with dtype, got 'float'",
        ),
        (
            _set("feeds.transactions.columns.country.nulable", True),
            r"feeds\.transactions\.columns\.country\.nulable: "
            r"unknown key \(did you mean 'nullable'\?\)",
        ),
        (
            _set("features.entities.merchant.aggregations.1.windows", [3]),
            r"aggregations\[1\]\.windows: \[3\] day\(s\) is shorter than the label delay \(7 days",
        ),
        (
            _set("features.entities.customer.aggregations.1.function", "median"),
            r"aggregations\[1\]\.function: must be one of 'count', .*got 'median'",
        ),
        (
            _set("features.entities.customer.aggregations.1.column", "currency"),
            r"aggregations\[1\]\.column: mean needs a numeric column; 'currency' is string",
        ),
        (
            _set("features.request.transforms.0.inputs", ["amount", "customer_amount_mean_90d"]),
            r"transforms\[0\]\.inputs\[1\]: 'customer_amount_mean_90d' is not a request "
            r"field \(an events column\) or a stored feature "
            r"\(did you mean 'customer_amount_mean_30d'\?\)",
        ),
        (
            _set("features.ttl_days", 7),
            r"features\.ttl_days: must be >= the longest window \(30 days\)",
        ),
        (
            _set("feeds.transactions.sensitive_attributes", ["merchant_id"]),
            r"features\.entities\.merchant\.join_key: 'merchant_id' is a sensitive attribute",
        ),
        (
            _set("model.positive", "yes"),
            r"model\.positive: 'yes' is not a value of 'is_fraud' \(feeds\.labels\): "
            r"one of \[0, 1\]",
        ),
        (
            _set("feeds.transactions.sensitive_attributes", ["age_band"]),
            r"sensitive_attributes\[0\]: 'age_band' is not a column here",
        ),
        (
            _set("feeds.transactions.history", {"ignore": ["amount", "amout"]}),
            r"feeds\.transactions\.history\.ignore\[1\]: 'amout' is not a column here",
        ),
        (
            _set("feeds.transactions.history", {"partitions": 3, "min_partitions": 5}),
            r"min_partitions \(5\) is above partitions \(3\)",
        ),
        (
            _set("feeds.labels.history", {"row_count": {"tolerance": 0.2, "action": "drop"}}),
            r"history\.row_count\.action: must be one of 'quarantine' or 'warn', got 'drop'",
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


TEN_MISTAKES = [
    ("feeds.transactions.columns.amount", "float", "expected a mapping with dtype"),
    ("feeds.transactions.columns.country.nulable", True, "did you mean 'nullable'"),
    ("feeds.transactions.columns.currency.dtype", "strng", "did you mean 'string'"),
    ("features.entities.customer.join_key", "cust_id", "did you mean 'customer_id'"),
    ("features.entities.merchant.aggregations.1.column", "is_frauds", "did you mean 'is_fraud'"),
    ("model.target", "fraud", "did you mean 'is_fraud'"),
    ("model.split", {"train": 0.8, "validation": 0.15, "holdout": 0.15}, "must sum to 1"),
    ("monitoring.window_dayz", 3, "did you mean 'window_days'"),
    ("serving.p99_ms", "fast", "must be a number, got 'fast'"),
    ("features.request.transforms.1.function", "hour_of_the_day", "did you mean 'hour_of_day'"),
]


def test_ten_mistakes_get_ten_precise_messages_in_one_run(tmp_path: Path, raw, capsys) -> None:
    from include.spec.__main__ import main

    def all_ten(r: dict[str, Any]) -> None:
        for path, value, _ in TEN_MISTAKES:
            _set(path, value)(r)

    path = _write(tmp_path, raw, all_ten)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert len(err.value.problems) == len(TEN_MISTAKES), str(err.value)
    text = str(err.value)
    lines = [x.strip() for x in text.splitlines()]
    for where, _, what in TEN_MISTAKES:
        dotted = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", where)  # a.b.1.c -> a.b[1].c
        hit = [x for x in lines if x.startswith(f"{dotted}: ") and what in x]
        assert hit, f"no message on {dotted} says {what!r}:\n{text}"
    # the command prints them all and exits 1; a good file exits 0
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err.count("\n  ") == len(TEN_MISTAKES)
    assert main(["check", str(BUNDLED)]) == 0


def test_the_committed_json_schema_is_the_specs_own(tmp_path: Path) -> None:
    """Editors check spec files against usecase/spec.schema.json: it must not go stale
    (``make spec-schema`` rewrites it)."""
    import json

    committed = json.loads((ROOT / "usecase" / "spec.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema()))
    column = committed["$defs"]["ColumnSpec"]
    assert column["additionalProperties"] is False and "dtype" in column["required"]
    assert "name" not in column["properties"]  # set by the loader, never written


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "usecase").glob("*.yaml")) + sorted((ROOT / "tests" / "specs").glob("*.yaml")),
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_every_spec_in_the_repository_is_clean(path: Path) -> None:
    """The bundled use cases and the specs written by following docs/new-use-case.md: each
    passes every check (a spec that rots here would fail a user copying it)."""
    spec, problems = problems_of(yaml.safe_load(path.read_text()), path)
    assert spec is not None and not problems, [str(p) for p in problems]
    assert spec.names.events_feed in spec.feeds and spec.names.labels_feed in spec.feeds


# ------------------------------------------------------------------------ pii columns
def test_pii_columns_are_listed_and_a_pii_join_key_is_a_string_entity(tmp_path, raw) -> None:
    from include.features.schema import feature_spec

    spec = load_spec(BUNDLED)
    assert spec.feed("transactions").pii_columns == ("customer_id",)
    assert spec.feed("labels").pii_columns == ()
    # merchant_id made pii too: its entity's key becomes the pseudonym, a string
    path = _write(tmp_path, raw, _set("feeds.transactions.columns.merchant_id.pii", True))
    views = {v.entity: v.key_type for v in feature_spec(load_spec(path)).views}
    assert views == {"customer": "string", "merchant": "string"}


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (
            _set("feeds.transactions.columns.event_timestamp.pii", True),
            "feeds.transactions.columns.event_timestamp.pii",
            "the feed's timestamp can not be pii",
        ),
        (
            _set("feeds.transactions.columns.transaction_id.pii", True),
            "feeds.labels.columns.transaction_id.pii",
            "is pii in feeds ['transactions'] but not in ['labels']",
        ),
        (
            _set("feeds.transactions.columns.amount.pii", True),
            "features.request.transforms[0].inputs",
            "'amount' is pii: only its pseudonym exists past ingest",
        ),
    ],
)
def test_a_pii_mark_that_would_break_a_join_or_a_feature_is_refused(
    tmp_path, raw, change, where, what
) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(_write(tmp_path, raw, change))
    assert any(p.where == where and what in p.what for p in err.value.problems), str(err.value)


def test_a_null_training_set_cap_is_the_default_not_no_cap(tmp_path: Path, raw) -> None:
    """As every null of a spec file: a cap is lifted by a number, never by omission."""
    spec = load_spec(_write(tmp_path, raw, _set("model.max_training_rows", None)))
    assert spec.model.max_training_rows == 2_000_000
    spec = load_spec(_write(tmp_path, raw, _set("model.max_training_rows", 10**12)))
    assert spec.model.max_training_rows == 10**12
