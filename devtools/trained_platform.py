"""A small trained platform: for the serving, deployment and scoring tests and benches.

The real stages, without Airflow's per-run overhead: simulated days are ingested through the
ingest steps (validation included), the feature tables computed and materialized into the
online store, and the training steps run once, so the registry holds a champion with its
lineage, holdout and decision threshold. Built once per test session (a few minutes) into its
own data root; :func:`use_platform` points a test's environment at it.

Tests copy it before changing it (``tests/platform.py``: ``copy_platform``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from devtools.trial import environment

ROOT = Path(__file__).resolve().parents[1]

# The eight days that ended by today (UTC): the online store's rows are then as fresh as in
# production, so serving sees them within their TTL, which Feast counts from *now*. Their
# content is always that of eight fixed simulated days (SOURCE_DAYS, moved in time by whole
# days), so the platform trains the same way whatever the date: a window's classes depend
# on the simulated day, and some days' holdout has no fraud.
LAST = datetime.now(UTC).date() - timedelta(days=1)
DAYS = [LAST - timedelta(days=7 - i) for i in range(8)]
SOURCE_DAYS = [date(2026, 10, 20) + timedelta(days=i) for i in range(8)]
ROWS = 1500


@dataclass(frozen=True)
class Platform:
    root: Path  # MLOPS_DATA_ROOT
    spec_path: Path
    tracking_uri: str
    champion_version: str
    days: tuple[date, ...]

    def env(self) -> dict[str, str]:
        return {
            "MLOPS_DATA_ROOT": str(self.root),
            "MLOPS_USECASE_SPEC": str(self.spec_path),
            "MLFLOW_TRACKING_URI": self.tracking_uri,
        }


# A model budget a few days of data can meet (tests, benchmarks, small platforms).
SMALL_MODEL = {
    "min_training_rows": 500,
    "min_positives": 20,
    "tuning_budget": 1,
    "candidates": ["xgboost"],
    "min_slice_rows": 100_000,
}
# The HTTP latency budget of small platforms: they run where the test suite's other tiers
# share the two cores, and an HTTP p99 on a busy machine says nothing of the platform (the
# budget's check is tested in tests/integration/test_deploy_dag.py, latency measured by
# bench/). The model's own predict budget (model_p99_ms) counts CPU time and stays.
BUSY_MACHINE_SERVING = {"p99_ms": 1_000}


def small_spec(path: Path, source: Path | None = None, **sections: dict[str, Any]) -> Path:
    """A spec (default: the bundled fraud one, with thresholds for a small window, as in the
    train DAG test) with a small model budget and :data:`BUSY_MACHINE_SERVING`, written to
    ``path``; ``sections`` update the sections of the same name (``model={...}``,
    ``serving={...}``)."""
    raw = yaml.safe_load((source or ROOT / "usecase" / "fraud.yaml").read_text())
    raw["model"].update(SMALL_MODEL)
    raw.setdefault("serving", {}).update(BUSY_MACHINE_SERVING)
    if source is None:
        raw["model"]["minimums"] = {"pr_auc": 0.05, "roc_auc": 0.6}
        raw["labels"] = {"delay_days": {"min": 1, "max": 2}, "maturity_days": 2}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(raw))
    return path


def build_platform(
    root: Path,
    *,
    days: list[date] | None = None,
    sources: list[date] | None = None,
    rows: int = ROWS,
    training_window_days: int = 30,
    spec_overrides: dict[str, dict] | None = None,
) -> Platform:
    """Ingest, featurize and train into ``root`` (a fresh directory); returns the platform.
    The environment is changed only while building. By default the eight :data:`DAYS` (the
    content of :data:`SOURCE_DAYS`); ``days``/``sources``: another history, day for day;
    ``spec_overrides``: spec sections updated on top of :func:`small_spec`."""
    days = list(days or DAYS)
    sources = list(sources or SOURCE_DAYS)
    root.mkdir(parents=True, exist_ok=True)
    spec_path = small_spec(root.parent / f"{root.name}-spec.yaml")
    if spec_overrides:
        raw = yaml.safe_load(spec_path.read_text())
        for section, values in spec_overrides.items():
            raw.setdefault(section, {}).update(values)
        spec_path.write_text(yaml.safe_dump(raw))
    platform = Platform(
        root=root,
        spec_path=spec_path,
        tracking_uri=f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
        champion_version="",
        days=tuple(days),
    )
    (root / "mlflow").mkdir(parents=True, exist_ok=True)
    with environment(platform.env()):
        from include.registry.read import champion
        from include.spec import load_spec
        from include.steps import materialize_features, train_model

        spec = load_spec()
        for day, source in zip(days, sources, strict=True):
            for feed in spec.feeds:
                outcome = ingest_shifted(spec, feed, day, source, rows=rows)
                assert outcome in (None, "published"), (feed, day, outcome)
        isodays = [d.isoformat() for d in days]
        materialize_features.compute_tables(isodays)
        materialize_features.apply_definitions()
        materialize_features.materialize_partitions(isodays)
        training_set = train_model.build_training_set(training_window_days, "platform__train")
        trained = train_model.train(training_set, families=["xgboost"], tuning_budget=1)
        result = train_model.gate(trained)
        current = champion()
        assert current is not None, result
        return Platform(**{**platform.__dict__, "champion_version": current.version})


def ingest_shifted(
    spec,
    feed: str,
    day: date,
    source: date,
    *,
    rows: int = ROWS,
    drift=None,
    fault: str | None = None,
    keep_rows: int | None = None,
) -> str | None:
    """Land ``source``'s simulated batch as ``day``'s and ingest it through the ingest steps
    (validation included): "published", "quarantined", or None when the batch has no rows.
    ``drift``: a simulator ``Drift`` (its ``start`` in source days); ``fault``: a
    ``devtools.faults`` name; ``keep_rows``: land only the first rows of the batch."""
    from include.quality.errors import BatchValidationFailed
    from include.steps import ingest

    if not _land_shifted(spec, feed, day, source, rows, drift, fault, keep_rows):
        return None
    summary = ingest.validate(feed, day.isoformat(), f"platform__{feed}__{day}")
    if summary["success"]:
        ingest.publish(summary)
        return "published"
    try:
        ingest.quarantine(summary)  # moves the batch and its evidence, then raises (the DAG fails)
    except BatchValidationFailed:
        pass
    return "quarantined"


def _land_shifted(
    spec,
    feed: str,
    day: date,
    source: date,
    rows: int = ROWS,
    drift=None,
    fault: str | None = None,
    keep_rows: int | None = None,
) -> bool:
    """Land ``source``'s simulated batch as ``day``'s: every timestamp moved by the same
    whole number of days (the simulator's ids stay unique). False when it has no rows."""
    import numpy as np
    import pandas as pd

    from devtools.faults import FAULTS
    from devtools.simulator import batch_file_name, clean_frame, to_csv_bytes
    from include import storage
    from include.config import get_settings

    frame = clean_frame(spec, feed, source, rows=rows, drift=drift)
    if keep_rows is not None:
        frame = frame.head(keep_rows)
    if frame.empty:
        return False
    shift = pd.Timedelta(days=(day - source).days)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column] + shift
    data = to_csv_bytes(frame)
    if fault:
        result = FAULTS[fault].apply(frame, spec.feed(feed), np.random.default_rng(day.toordinal()))
        data = result if isinstance(result, bytes) else to_csv_bytes(result)
    folder = storage.join(get_settings().landing_uri, feed, day.isoformat())
    storage.write_bytes(storage.join(folder, batch_file_name(feed, day)), data)
    return True


def land_reference_days(spec, rows: int = ROWS, days: list[date] | None = None) -> list[date]:
    """Land the :data:`SOURCE_DAYS` content as :data:`DAYS` (both feeds) into the landing
    zone of the settings, without ingesting: the same history on every run, so a platform
    driven by Airflow (the production profile's test tier and bench) trains the same way
    whatever the date. Returns the landed days."""
    days = list(days or DAYS)
    for day, source in zip(days, SOURCE_DAYS[-len(days) :], strict=True):
        for feed in spec.feeds:
            _land_shifted(spec, feed, day, source, rows)
    return days


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.trained_platform --land [--rows N] [--spec PATH]``: land the
    reference days (see :func:`land_reference_days`) and print the first one."""
    import argparse

    from include.spec import load_spec

    parser = argparse.ArgumentParser(prog="python -m devtools.trained_platform")
    parser.add_argument("--land", action="store_true", required=True, help="land the days")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows per day (default {ROWS})")
    parser.add_argument("--spec", help="use-case spec YAML (default: settings)")
    args = parser.parse_args(argv)
    landed = land_reference_days(load_spec(args.spec), args.rows)
    print(f"landed {len(landed)} reference days {landed[0]}..{landed[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
