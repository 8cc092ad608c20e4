"""The spec's ``monitoring`` section (include/spec.py ``MonitoringSpec``, usecase/fraud.yaml).

Given the bundled spec, when it is loaded, then every monitoring threshold is the one written
there; given a copy without the section, the defaults; given a misspelt key, an unknown drift
method or a value out of range, a :class:`SpecError` names the file and the dotted key.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from include.spec import DRIFT_METHODS, MonitoringSpec, SpecError, load_spec
from tests.conftest import ROOT

BUNDLED = ROOT / "usecase" / "fraud.yaml"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(BUNDLED.read_text())


def _write(tmp_path: Path, raw: dict[str, Any], monitoring: Any) -> Path:
    """A copy of the bundled spec whose monitoring section is ``monitoring`` (... drops it)."""
    edited = copy.deepcopy(raw)
    if monitoring is ...:
        edited.pop("monitoring", None)
    else:
        edited["monitoring"] = monitoring
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(edited))
    return path


def test_the_bundled_section_is_read_with_every_key(raw) -> None:
    written = raw["monitoring"]
    mon = load_spec(BUNDLED).monitoring

    assert set(written) == {f.name for f in dataclasses.fields(MonitoringSpec)}
    for key, value in written.items():
        assert getattr(mon, key) == value, key
    assert mon.drift_method in DRIFT_METHODS


@pytest.mark.parametrize("section", [..., None, {}], ids=["absent", "null", "empty"])
def test_a_spec_without_the_section_takes_the_defaults(tmp_path, raw, section) -> None:
    mon = load_spec(_write(tmp_path, raw, section)).monitoring

    assert mon == MonitoringSpec()
    assert (mon.drift_method, mon.drift_threshold, mon.min_sample_rows) == (
        "wasserstein",
        0.1,
        1000,
    )


def test_keys_left_out_keep_their_defaults(tmp_path, raw) -> None:
    mon = load_spec(_write(tmp_path, raw, {"window_days": 7, "drift_method": "ks"})).monitoring

    assert mon == dataclasses.replace(MonitoringSpec(), window_days=7, drift_method="ks")


def test_an_unknown_key_is_refused_by_name(tmp_path, raw) -> None:
    section = {**raw["monitoring"], "drift_treshold": 0.2}
    path = _write(tmp_path, raw, section)

    with pytest.raises(
        SpecError,
        match=r"monitoring\.drift_treshold: unknown key \(did you mean 'drift_threshold'\?\)",
    ) as err:
        load_spec(path)

    assert str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize("method", ["wasserstien", "KS", "t_test", "chisquare"])
def test_an_unknown_drift_method_is_refused(tmp_path, raw, method) -> None:
    path = _write(tmp_path, raw, {**raw["monitoring"], "drift_method": method})

    with pytest.raises(SpecError, match=r"monitoring\.drift_method: must be one of") as err:
        load_spec(path)

    assert repr(method) in str(err.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("window_days", 0, r"monitoring\.window_days: must be greater than or equal to 1"),
        ("min_sample_rows", 2.5, r"monitoring\.min_sample_rows: must be a whole number"),
        ("drift_threshold", 0, r"monitoring\.drift_threshold: must be greater than 0"),
        ("drift_share", 1.5, r"monitoring\.drift_share: must be less than or equal to 1"),
        ("max_rows", 10, r"monitoring\.max_rows: must be greater than or equal to 100"),
        (
            "max_pr_auc_drop",
            -0.1,
            r"monitoring\.max_pr_auc_drop: must be greater than or equal to 0",
        ),
        (
            "retrain_cooldown_hours",
            "3d",
            r"monitoring\.retrain_cooldown_hours: must be a number",
        ),
        ("max_failed_retrains", True, r"monitoring\.max_failed_retrains: must be a whole number"),
    ],
)
def test_a_value_out_of_range_names_the_key(tmp_path, raw, key, value, message) -> None:
    path = _write(tmp_path, raw, {**raw["monitoring"], key: value})

    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_the_section_must_be_a_mapping(tmp_path, raw) -> None:
    with pytest.raises(SpecError, match=r"monitoring: expected a mapping, got \[\'wasserstein\'\]"):
        load_spec(_write(tmp_path, raw, ["wasserstein"]))
