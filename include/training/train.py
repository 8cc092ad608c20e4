"""Train the spec's candidate families on a labelled frame and track everything in MLflow.

Input: the training frame (key, UTC event time, numeric features, 0/1 target, sensitive
attributes), the feature names, and lineage (data partitions, feature service, validation
result ids, git commit, DAG run id). Policy comes from the spec's ``model`` section.

What happens: a time split; per family a small seeded search (``tuning_budget`` configs,
each a nested MLflow run with its validation metrics); the family's best config becomes a
*candidate* run with params, validation and holdout metrics, PR/ROC/calibration plots,
feature importance, and the model (signature, input example, pinned requirements). All runs
sit under one parent run carrying the lineage tags, the data hash and the holdout file the
registry gate scores on.

Output: a JSON-able dict (run ids, model URIs, metrics, the best candidate by validation
primary metric, timings) for :func:`include.registry.evaluate_and_promote`. Nothing is
registered here. A diverging candidate raises :class:`TrainingDiverged` and every open run
ends FAILED.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from include.modeling import metrics as m
from include.modeling import tracking
from include.modeling.tracking import Stopwatch
from include.spec import ModelSpec, UseCaseSpec, load_spec
from include.training import mlp, xgb
from include.training.errors import TrainingDataInvalid
from include.training.split import (
    Columns,
    SplitArrays,
    TimeSplit,
    feature_matrix,
    time_split,
)
from include.training.threads import resolve_threads

log = logging.getLogger(__name__)

FAMILIES: dict[str, ModuleType] = {xgb.FAMILY: xgb, mlp.FAMILY: mlp}
HOLDOUT_ARTIFACT = tracking.HOLDOUT_ARTIFACT
READ_BACK_ROWS = 256
EXAMPLE_ROWS = 5

_IMPORTANCE = {
    xgb.FAMILY: "total gain over all splits on the feature",
    mlp.FAMILY: "permutation: drop of validation average precision when the feature is shuffled",
}


def sensitive_attributes(spec: UseCaseSpec) -> tuple[str, ...]:
    """Every feed's sensitive attributes, in spec order, without repeats."""
    seen: dict[str, None] = {}
    for feed in spec.feeds.values():
        seen.update(dict.fromkeys(feed.sensitive_attributes))
    return tuple(seen)


def training_digest(
    frame: pd.DataFrame, features: Sequence[str], spec: UseCaseSpec | None = None
) -> str:
    """The ``data_sha256`` that :func:`train_candidates` tags its runs (and the registered
    version) with for this frame: the digest of its time split's kept columns."""
    spec = spec or load_spec()
    columns = Columns.of(spec, features, sensitive_attributes(spec))
    return time_split(frame, columns, spec.model.split).digest()


def train_candidates(
    frame: pd.DataFrame,
    features: Sequence[str],
    lineage: Mapping[str, str],
    *,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    families: Sequence[str] | None = None,
    tuning_budget: int | None = None,
    configs: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    threads: int | None = None,
    seed: int = 42,
    run_name: str | None = None,
) -> dict[str, Any]:
    """Train, evaluate and log every candidate; return the JSON-able training result.

    ``families`` defaults to the spec's ``candidates``, ``tuning_budget`` (configs per
    family) to the spec's; ``configs`` pins a family's configs (partial dicts are merged
    into the family default), e.g. to reproduce a run. ``threads`` caps XGBoost and torch
    threads (default: the CPUs this process may use).
    """
    started = time.perf_counter()
    spec = spec or load_spec()
    policy = spec.model
    columns = Columns.of(spec, features, sensitive_attributes(spec))
    split = time_split(frame, columns, policy.split)  # bad data fails before any run
    families = list(families or policy.candidates)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise TrainingDataInvalid(f"unknown candidate families {unknown}; known: {list(FAMILIES)}")
    plan = {
        family: _configs(family, configs, tuning_budget or policy.tuning_budget, seed)
        for family in families
    }
    threads = resolve_threads(threads)
    watch = Stopwatch()
    ctx = _Context(split, SplitArrays.of(split), policy, threads, seed, watch)

    with watch.track("mlflow"):
        mlflow = tracking.configure(tracking_uri)
        experiment_id = ctx.experiment_id = tracking.ensure_experiment(spec.name)
    digest = split.digest()  # same rows in the same split -> same hash
    run_name = run_name or f"train-{lineage.get('dag_run_id', time.strftime('%Y%m%dT%H%M%S'))}"
    tags = {
        **tracking.lineage_tags(lineage),
        "data_sha256": digest,
        "features": ",".join(ctx.features)[: tracking.MAX_TAG_VALUE],
        "usecase_spec": str(spec.path),
        "stage": "train_candidates",
    }
    with _run(mlflow, watch, experiment_id=experiment_id, run_name=run_name, tags=tags) as parent:
        with watch.track("mlflow"):
            _log_parent(mlflow, ctx, plan)
        candidates = [_train_family(mlflow, ctx, family, plan[family], lineage) for family in plan]
        primary = policy.primary_metric
        best = max(candidates, key=lambda c: _score(primary, c["validation"].get(primary)))
        with watch.track("mlflow"):
            tracking.log_batch(
                tags={"best.family": best["family"], "best.run_id": best["run_id"]},
                metrics={f"best/validation/{primary}": best["validation"][primary]},
            )
    total = time.perf_counter() - started
    return {
        "experiment": spec.name,
        "experiment_id": experiment_id,
        "tracking_uri": mlflow.get_tracking_uri(),
        "run_id": parent.info.run_id,
        "features": list(columns.features),
        "target": columns.target,
        "sensitive": list(columns.sensitive),
        "primary_metric": primary,
        "split": split.summary(),
        "data_sha256": digest,
        "holdout_uri": f"runs:/{parent.info.run_id}/{HOLDOUT_ARTIFACT}",
        "lineage": {str(k): str(v) for k, v in lineage.items()},
        "candidates": candidates,
        "best": {
            "family": best["family"],
            "run_id": best["run_id"],
            "model_uri": best["model_uri"],
            f"validation_{primary}": best["validation"][primary],
        },
        "timings": {
            "total_s": round(total, 3),
            "fit_s": round(watch.seconds["fit"], 3),
            "mlflow_s": round(watch.seconds["mlflow"], 3),
            "mlflow_share": round(watch.seconds["mlflow"] / total, 4),
        },
    }


class _Context:
    """What every family needs: data, policy, threads, seed, the stopwatch."""

    def __init__(
        self,
        split: TimeSplit,
        arrays: SplitArrays,
        policy: ModelSpec,
        threads: int,
        seed: int,
        watch: Stopwatch,
    ) -> None:
        self.split, self.arrays, self.policy = split, arrays, policy
        self.threads, self.seed, self.watch = threads, seed, watch
        self.experiment_id = ""  # set once the experiment exists
        self.features = list(split.columns.features)
        self.fpr = policy.recall_at_fpr
        self.primary = policy.primary_metric
        holdout = split.holdout
        self.x_hold = feature_matrix(holdout, self.features)
        self.y_hold = holdout[split.columns.target].to_numpy(dtype=np.int64)


def _configs(
    family: str, pinned: Mapping[str, Sequence[Mapping[str, Any]]] | None, budget: int, seed: int
) -> list[dict[str, Any]]:
    module = FAMILIES[family]
    if pinned and pinned.get(family):
        return [{**module.DEFAULT, **dict(c)} for c in pinned[family]]
    return module.search_space(budget, seed)


def _score(metric: str, value: float | None) -> float:
    """Sort key: larger is better; an undefined metric ranks last."""
    if value is None:
        return -np.inf
    return -value if metric in m.LOWER_IS_BETTER else value


@contextmanager
def _run(mlflow: ModuleType, watch: Stopwatch, **kwargs: Any) -> Iterator[Any]:
    """An MLflow run whose start/end count as MLflow time; FAILED (with the error as a tag)
    when the body raises."""
    with watch.track("mlflow"):
        run = mlflow.start_run(**kwargs)
    try:
        yield run
    except BaseException as exc:
        with watch.track("mlflow"):
            mlflow.set_tag("error", f"{type(exc).__name__}: {exc}"[: tracking.MAX_TAG_VALUE])
            mlflow.end_run("FAILED")
        raise
    with watch.track("mlflow"):
        mlflow.end_run("FINISHED")


def _log_parent(
    mlflow: ModuleType, ctx: _Context, plan: Mapping[str, list[dict[str, Any]]]
) -> None:
    split = ctx.split
    tracking.log_batch(
        params={
            **{f"split.{k}": v for k, v in ctx.policy.split.as_dict().items()},
            "primary_metric": ctx.primary,
            "recall_at_fpr": ctx.fpr,
            "families": ",".join(plan),
            "configs_per_family": max(len(c) for c in plan.values()),
            "seed": ctx.seed,
            "threads": ctx.threads,
            "n_features": len(ctx.features),
        }
    )
    mlflow.log_dict(split.summary(), "split.json")
    with tempfile.TemporaryDirectory(prefix="mlops-holdout-") as tmp:
        path = Path(tmp) / Path(HOLDOUT_ARTIFACT).name
        split.holdout.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(HOLDOUT_ARTIFACT).parent))


def _train_family(
    mlflow: ModuleType,
    ctx: _Context,
    family: str,
    configs: list[dict[str, Any]],
    lineage: Mapping[str, str],
) -> dict[str, Any]:
    module = FAMILIES[family]
    watch, arrays = ctx.watch, ctx.arrays
    # Nested runs need the experiment too: MLflow would put them in experiment 0, whose
    # artifacts go to ./mlruns in the working directory.
    tags = {**tracking.lineage_tags(lineage), "family": family, "candidate": "true"}
    with _run(
        mlflow,
        watch,
        run_name=family,
        nested=True,
        experiment_id=ctx.experiment_id,
        tags=tags,
    ) as run:
        trials = []
        for i, config in enumerate(configs):
            with watch.track("fit"):
                t0 = time.perf_counter()
                fitted = module.fit(
                    config, arrays, threads=ctx.threads, seed=ctx.seed, primary_metric=ctx.primary
                )
                val = m.classification_metrics(
                    arrays.y_val, fitted.predict(arrays.x_val), fpr_target=ctx.fpr
                )
                seconds = time.perf_counter() - t0
            with (
                _run(
                    mlflow,
                    watch,
                    run_name=f"{family}-{i}",
                    nested=True,
                    experiment_id=ctx.experiment_id,
                    tags={"family": family},
                ),
                watch.track("mlflow"),
            ):
                tracking.log_batch(
                    params=tracking.flat_params("", config),
                    metrics={
                        **m.prefixed(val, "validation"),
                        **fitted.summary(),
                        "fit_seconds": seconds,
                    },
                )
            trials.append(
                {"config": config, "validation": val, "fit_seconds": seconds, "fitted": fitted}
            )
        best = max(trials, key=lambda t: _score(ctx.primary, t["validation"].get(ctx.primary)))
        fitted = best["fitted"]
        with watch.track("fit"):
            p_val = fitted.predict(arrays.x_val)
            p_hold = fitted.predict(ctx.x_hold)
            hold = m.classification_metrics(ctx.y_hold, p_hold, fpr_target=ctx.fpr)
            importance = fitted.importance(arrays)
        with watch.track("mlflow"):
            model = _log_candidate(
                mlflow, ctx, fitted, best, hold, importance, trials, p_val, p_hold
            )
    log.info(
        "%s: validation %s %.4f, holdout %.4f",
        family,
        ctx.primary,
        best["validation"][ctx.primary] or float("nan"),
        hold[ctx.primary] or float("nan"),
    )
    return {
        "family": family,
        "run_id": run.info.run_id,
        **model,
        "config": best["config"],
        "validation": best["validation"],
        "holdout": hold,
        "trials": len(trials),
        "fit_seconds": round(sum(t["fit_seconds"] for t in trials), 3),
    }


def _log_candidate(
    mlflow: ModuleType,
    ctx: _Context,
    fitted: Any,
    best: dict[str, Any],
    hold: dict[str, Any],
    importance: dict[str, float],
    trials: list[dict[str, Any]],
    p_val: np.ndarray,
    p_hold: np.ndarray,
) -> dict[str, str]:
    from include.training.plots import curve_images

    tracking.log_batch(
        params=tracking.flat_params("", best["config"]),
        metrics={
            **m.prefixed(best["validation"], "validation"),
            **m.prefixed(hold, "holdout"),
            **fitted.summary(),
        },
    )
    ranked = dict(sorted(importance.items(), key=lambda kv: -kv[1]))
    mlflow.log_dict(
        {"method": _IMPORTANCE[fitted.family], "importance": ranked}, "feature_importance.json"
    )
    mlflow.log_dict(
        [{k: v for k, v in t.items() if k != "fitted"} for t in trials], "tuning/trials.json"
    )
    images = curve_images(
        {"validation": (ctx.arrays.y_val, p_val), "holdout": (ctx.y_hold, p_hold)},
        title=fitted.family,
        fpr_target=ctx.fpr,
    )
    for name, image in images.items():
        mlflow.log_image(image, artifact_file=f"plots/{name}")
    validation = ctx.split.validation
    return tracking.log_model(
        fitted,
        ctx.features,
        example=validation.head(EXAMPLE_ROWS),
        check_rows=validation.sample(min(READ_BACK_ROWS, len(validation)), random_state=0),
    )
