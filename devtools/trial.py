"""A dry run of a use case: its spec, its source and every stage, without Airflow.

``python -m devtools.trial usecase/X.yaml [--days N] [--root DIR]`` checks the spec, then
in a scratch data root (default: a new temporary folder) lands the last ``N`` days from the
spec's source (simulator or replay), ingests each batch through the real validation (a
quarantine is reported with its failed checks), computes and materializes the features,
builds the training set, trains the spec's candidates and runs the gate. It prints what
each stage did and how long it took, and the champion's holdout metrics next to the
constant baseline (which predicts the training positive rate for every event: PR-AUC equal
to the holdout's positive rate, ROC-AUC 0.5), so that a new use case shows at once whether
its model learns anything. Exit 1 when a stage fails, with its error.

The same steps run in the e2e tier's second-use-case test (:func:`run`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any


@dataclass
class Trial:
    """What a dry run did: per stage its seconds and facts, and the gate's outcome."""

    spec_path: Path
    root: Path
    days: list[date]
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    champion: dict[str, Any] | None = None

    def env(self) -> dict[str, str]:
        return {
            "MLOPS_DATA_ROOT": str(self.root),
            "MLOPS_USECASE_SPEC": str(self.spec_path),
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}",
        }


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` while inside; the previous environment restored after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _land(spec: Any, day: date, shift: int | None) -> None:
    if spec.source is not None and spec.source.kind == "replay":
        from devtools import replay

        replay.land(spec, day, shift=shift)
    else:
        from devtools import simulator

        for feed in spec.feeds:
            simulator.land(spec, feed, day)


def run(
    spec_path: Path,
    root: Path,
    days: list[date],
    *,
    families: Sequence[str] | None = None,
    tuning_budget: int | None = None,
    shift: int | None = None,
    say: Any = print,
) -> Trial:
    """Land, ingest, featurize, train and gate ``days`` of ``spec_path``'s use case into
    ``root`` (a fresh folder). ``families``/``tuning_budget``: override the spec's; ``shift``:
    a replay's shift in days (default: fixed by the first landing)."""
    from include.spec import load_spec

    trial = Trial(spec_path=spec_path, root=root, days=days)
    (root / "mlflow").mkdir(parents=True, exist_ok=True)
    with environment(trial.env()):
        from include.config import get_settings
        from include.data import batches
        from include.quality.errors import BatchValidationFailed
        from include.registry.read import champion
        from include.steps import ingest, materialize_features, train_model

        spec = load_spec()
        started = time.monotonic()
        published: dict[str, int] = {feed: 0 for feed in spec.feeds}
        quarantined: list[dict[str, Any]] = []
        for day in days:
            _land(spec, day, shift)
            for feed in spec.feeds:
                if not batches.list_batch_files(get_settings().landing_uri, feed, day):
                    continue  # nothing landed (a replay's first day has no outcomes yet)
                summary = ingest.validate(feed, day.isoformat(), f"trial__{feed}__{day}")
                if summary["success"]:
                    ingest.publish(summary)
                    published[feed] += 1
                else:
                    quarantined.append(
                        {"feed": feed, "day": str(day), "failed": summary.get("failed_checks")}
                    )
                    try:
                        ingest.quarantine(summary)
                    except BatchValidationFailed:
                        pass
        trial.stages["ingest"] = {
            "seconds": round(time.monotonic() - started, 1),
            "published": published,
            "quarantined": quarantined,
        }
        say(f"ingest: {trial.stages['ingest']}")

        started = time.monotonic()
        iso = [d.isoformat() for d in days]
        rows = materialize_features.compute_tables(iso)
        materialize_features.apply_definitions()
        materialize_features.materialize_partitions(iso)
        trial.stages["features"] = {
            "seconds": round(time.monotonic() - started, 1),
            "rows_last_day": rows.get(iso[-1]) if isinstance(rows, dict) else None,
        }
        say(f"features: {trial.stages['features']}")

        started = time.monotonic()
        training_set = train_model.build_training_set(len(days), "trial__train")
        trained = train_model.train(
            training_set,
            families=list(families or spec.model.candidates),
            tuning_budget=tuning_budget or spec.model.tuning_budget,
        )
        result = train_model.gate(trained)
        split = trained["split"]
        trial.stages["train"] = {
            "seconds": round(time.monotonic() - started, 1),
            "rows": {part: split[part]["rows"] for part in split},
            "positives": {part: split[part]["positives"] for part in split},
            "decision": result.get("decision"),
            "reason": result.get("reason"),
        }
        say(f"train: {trial.stages['train']}")
        current = champion(spec)
        if current is not None:
            metrics = dict(current.holdout_metrics)
            share = metrics["positives"] / metrics["rows"] if metrics.get("rows") else None
            trial.champion = {
                "version": current.version,
                "family": current.family,
                "holdout": metrics,
                "baseline": {"pr_auc": share, "roc_auc": 0.5},
            }
            say(f"champion: {trial.champion}")
    return trial


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.trial", description=__doc__)
    parser.add_argument("spec", type=Path, help="the use case's spec file")
    parser.add_argument("--days", type=int, default=21, help="days to land (default 21)")
    parser.add_argument("--root", type=Path, help="scratch data root (default: a temp dir)")
    parser.add_argument("--family", action="append", help="only this model family")
    parser.add_argument("--budget", type=int, help="tuning budget (default: the spec's)")
    args = parser.parse_args(argv)

    from include.spec import SpecError, load_spec

    try:
        load_spec(args.spec)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    root = args.root or Path(tempfile.mkdtemp(prefix="trial-"))
    last = datetime.now(UTC).date() - timedelta(days=1)
    days = [last - timedelta(days=args.days - 1 - i) for i in range(args.days)]
    print(f"dry run of {args.spec} in {root}: {days[0]}..{days[-1]}")
    try:
        trial = run(
            args.spec.resolve(), root, days, families=args.family, tuning_budget=args.budget
        )
    except Exception as exc:  # noqa: BLE001 (a dry run reports any stage's failure)
        import traceback

        traceback.print_exc()
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if trial.champion is None:
        print("no champion: the gate refused the first model (see train above)")
        return 1
    holdout, base = trial.champion["holdout"], trial.champion["baseline"]
    print(
        f"holdout PR-AUC {holdout['pr_auc']:.3f} (constant baseline {base['pr_auc']:.3f}), "
        f"ROC-AUC {holdout['roc_auc']:.3f} (baseline 0.5), {int(holdout['rows'])} rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
