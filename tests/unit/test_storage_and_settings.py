"""Storage paths, the layout of every location, and settings."""

from __future__ import annotations

from datetime import date

import pytest

from include import layout, storage
from include.config import get_settings
from include.spec import SpecError, load_spec


@pytest.mark.parametrize("bad", ["../etc", "a/../../b", "..", "~root", "a\\..\\b"])
def test_E5_join_refuses_segments_that_climb_out(bad) -> None:
    with pytest.raises(ValueError):
        storage.join("/lake/quarantine", bad)


@pytest.mark.parametrize(
    "run_id", ["../../etc/passwd", "manual__2026-11-20T00:00:00+00:00", "%2e%2e/x", "/abs", ".."]
)
def test_E5_run_ids_become_one_safe_segment(run_id) -> None:
    slug = layout.run_slug(run_id)
    assert "/" not in slug and slug not in ("", ".", "..") and not slug.startswith(".")
    path = layout.quarantine_dir("/lake", "transactions", date(2026, 11, 20), run_id)
    assert path.startswith("/lake/quarantine/transactions/2026-11-20/")


def test_write_bytes_is_atomic_and_leaves_no_temp_files(tmp_path) -> None:
    target = tmp_path / "a" / "b.bin"
    storage.write_bytes(str(target), b"one")
    storage.write_bytes(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["b.bin"]


def test_settings_defaults_live_under_one_data_root(data_root) -> None:
    s = get_settings()
    assert s.landing_uri == str(data_root / "landing")
    assert s.lake_uri == str(data_root / "lake")
    assert s.mlflow_tracking_uri == f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}"
    assert s.features_uri == str(data_root / "features")
    day = date(2026, 11, 20)
    assert layout.quarantine_dir(s.lake_uri, "labels", day, "r").startswith(f"{s.lake_uri}/")


def test_settings_accept_s3_locations(monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_LANDING_URI", "s3://landing")
    monkeypatch.setenv("MLOPS_LAKE_URI", "s3://lake/prod/")
    monkeypatch.setenv("MLOPS_FEATURES_URI", "s3://features")
    s = get_settings()
    assert s.landing_uri == "s3://landing"
    day = date(2026, 11, 20)
    assert layout.partition_uri(s.lake_uri, "labels", day) == (
        "s3://lake/prod/validated/labels/date=2026-11-20/data.parquet"
    )
    assert layout.feature_table_uri(s.features_uri, "v", day) == (
        "s3://features/v/date=2026-11-20/data.parquet"
    )
    assert layout.training_set_uri(s.lake_uri, "manual__x:y") == (
        "s3://lake/prod/training_sets/manual__x_y.parquet"
    )


def test_spec_errors_name_the_file_and_key(tmp_path) -> None:
    bad = tmp_path / "spec.yaml"
    bad.write_text(
        "feeds:\n  t:\n    key: id\n    timestamp: ts\n    columns:\n      id: {dtype: str}\n"
    )
    with pytest.raises(SpecError, match=r"feeds\.t\.columns\.id\.dtype: must be one of") as err:
        load_spec(bad)
    assert str(err.value).startswith(f"{bad}: ")
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")


def test_the_bundled_spec_declares_both_feeds() -> None:
    spec = load_spec()
    assert set(spec.feeds) == {"transactions", "labels"}
    assert spec.feed("transactions").sensitive_attributes == ("customer_age_band",)
    assert spec.model.target == "is_fraud"
