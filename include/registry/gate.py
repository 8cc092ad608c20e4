"""The evaluation gate: register the best candidate as challenger, compare it with the
champion on the same recent holdout, and promote it only when it is clearly better and fair.

Policy (spec ``model``: the typed :class:`include.spec.ModelSpec` itself, no copy): the
challenger replaces the champion when its ``primary_metric`` beats the champion's by
``promotion_margin`` AND no slice of a sensitive attribute with at least ``min_slice_rows``
rows has ``slice_metric`` more than ``max_slice_gap`` below the challenger's overall value.
With no champion yet, the absolute ``minimums`` replace the comparison. Aliases only
(``champion_alias`` / ``challenger_alias``), never stages.

Serving budget (spec ``serving``): a challenger whose single-row in-process predict p99
exceeds ``model_p99_ms`` or whose logged artifacts exceed ``max_model_mb`` cannot become
champion, however good (:mod:`include.registry.footprint` measures both).

Decision threshold: scoring the challenger's holdout also fixes the threshold serving flags
at, the lowest score whose FPR on the holdout's negatives is at most
``serving.target_false_positive_rate`` (:func:`include.modeling.metrics.threshold_at_fpr`).
It is tagged on the version (``serving.threshold`` ...) whatever the decision, so any
version, a rolled-back one too, can be deployed with the threshold it was judged with.

Steps (each a public function, so a DAG can split them into tasks):

1. :func:`register_challenger`: the training result's best candidate becomes a version of
   ``registered_name`` (idempotent per run: a retried task finds its version) with lineage
   and metric tags, and the challenger alias (under the lock, like every alias write).
2. :func:`compare_with_champion`: both models score the challenger's holdout (stored by
   training as a run artifact); overall and per-slice metrics, latency and size, the
   challenger's decision threshold, and every check.
3. :func:`promote`: under the promotion lock (:mod:`include.registry.lock`) the champion is
   re-read; if it changed since step 2 the comparison is redone against the new one. The
   report (JSON + HTML) is logged on the challenger's run and tagged on the version (with
   the threshold and the footprint), and only then the champion alias moves. A rejection
   leaves the champion untouched and raises :class:`PromotionRejected` carrying the result
   (or returns it, ``raise_on_reject=False``).
   Where the spec's ``model.approval`` asks a person (a drift retrain, a grown slice gap:
   :func:`include.registry.approval.approval_reasons`), a passing challenger is not
   promoted: the decision is ``awaiting_approval`` and :mod:`include.registry.approval`
   acts on the answer. A retired version (:mod:`include.registry.retire`) is never promoted.

:func:`evaluate_and_promote` runs the three. Every result is JSON-able.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from include.modeling import metrics as m
from include.modeling import tracking
from include.modeling.digests import frame_digest
from include.registry import footprint as fp
from include.registry.approval import REQUIRED_BECAUSE_TAG, STATUS_TAG, approval_reasons
from include.registry.errors import PromotionRejected
from include.registry.lock import promotion_lock
from include.registry.read import (
    FOOTPRINT_KEYS,
    HOLDOUT_FPR_TAG,
    HOLDOUT_RECALL_TAG,
    TARGET_FPR_TAG,
    THRESHOLD_TAG,
)
from include.registry.read import champion_version as read_champion_version
from include.registry.report import render_html
from include.registry.retire import is_retired
from include.spec import ModelSpec, ServingSpec, UseCaseSpec, load_spec

log = logging.getLogger(__name__)

REPORT_DIR = "gate"
LATENCY_ROWS = 300  # holdout rows the latency is measured on, in turn
# One model loaded and measured at a time in this process: MLflow executes a model-from-code
# file through a process global, so two threads loading at once can get the same instance
# (whose unwrapped predict_array then scores the other load's model); and two measurements
# at once would time each other.
_MEASURE = threading.Lock()


def _setup(spec: UseCaseSpec | None, tracking_uri: str | None) -> tuple[UseCaseSpec, Any, Any]:
    spec = spec or load_spec()
    mlflow = tracking.configure(tracking_uri)
    return spec, mlflow, mlflow.MlflowClient()


def load_holdout(uri: str) -> pd.DataFrame:
    """The holdout frame training stored as a run artifact (``runs:/<id>/holdout/...``)."""
    mlflow = tracking.mlflow_module()
    with tempfile.TemporaryDirectory(prefix="mlops-holdout-") as tmp:
        path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        return pd.read_parquet(path)


def predict(model: Any, holdout: pd.DataFrame, features: list[str]) -> np.ndarray:
    """A pyfunc model's probabilities for the rows of ``holdout`` (1-D float64)."""
    proba = np.asarray(model.predict(holdout[features].astype("float64")), dtype=np.float64)
    proba = proba.reshape(-1) if proba.ndim == 2 and proba.shape[1] == 1 else proba
    if proba.shape != (len(holdout),) or not np.all(np.isfinite(proba)):
        raise ValueError(f"model returned {proba.shape} non-probabilities for {len(holdout)} rows")
    return proba


def score(
    model: Any,
    holdout: pd.DataFrame,
    features: list[str],
    sensitive: list[str],
    policy: ModelSpec,
) -> dict[str, Any]:
    """Overall and per-slice metrics of a pyfunc model on ``holdout``."""
    return score_predictions(predict(model, holdout, features), holdout, sensitive, policy)


def score_predictions(
    proba: np.ndarray, holdout: pd.DataFrame, sensitive: list[str], policy: ModelSpec
) -> dict[str, Any]:
    """Overall and per-slice metrics of probabilities ``proba`` for the rows of ``holdout``."""
    y = holdout[policy.target].to_numpy(dtype=np.int64)
    overall = m.classification_metrics(y, proba, fpr_target=policy.recall_at_fpr)
    slices = {
        attr: m.slice_metrics(
            y,
            proba,
            holdout[attr],
            metric=policy.slice_metric,
            fpr_target=policy.recall_at_fpr,
            min_rows=policy.min_slice_rows,
            overall=overall.get(policy.slice_metric),
            max_gap=policy.max_slice_gap,
        )
        for attr in sensitive
    }
    return {"overall": overall, "slices": slices}


def budget_checks(
    footprint: Mapping[str, Any] | None, serving: ServingSpec
) -> list[dict[str, Any]]:
    """The serving budget's checks for a measured ``footprint`` (pure policy): single-row
    predict p99 within ``model_p99_ms``, artifacts within ``max_model_mb``. A measurement
    that is missing fails its check: an unmeasured model is not known to fit."""
    got = footprint or {}
    p99, p50, mb = got.get("model_p99_ms"), got.get("model_p50_ms"), got.get("model_mb")
    if p99 is None:
        latency = {
            "passed": False,
            "detail": f"single-row predict latency not measured ({got.get('error', 'no value')})"
            f"; budget {serving.model_p99_ms:g} ms (serving.model_p99_ms)",
        }
    else:
        ok = p99 <= serving.model_p99_ms
        latency = {
            "passed": ok,
            "detail": f"single-row predict p99 {p99:.3f} ms (p50 {_ms(p50)}, quietest of "
            f"{got.get('latency_rounds', '?')} rounds of {got.get('latency_calls', '?')} calls) "
            f"{'within' if ok else 'exceeds'} the budget of {serving.model_p99_ms:g} ms "
            "(serving.model_p99_ms)",
        }
    if mb is None:
        size = {
            "passed": False,
            "detail": f"model size not measured; budget {serving.max_model_mb:g} MB "
            "(serving.max_model_mb)",
        }
    else:
        ok = mb <= serving.max_model_mb
        size = {
            "passed": ok,
            "detail": f"logged model artifacts {mb:.3f} MB {'within' if ok else 'exceed'} the "
            f"budget of {serving.max_model_mb:g} MB (serving.max_model_mb)",
        }
    return [{"name": "latency_budget", **latency}, {"name": "size_budget", **size}]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} ms"


def decide(
    challenger: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    policy: ModelSpec,
    serving: ServingSpec | None = None,
) -> tuple[bool, list[dict[str, Any]], str]:
    """(passed, checks, reason) for scored challenger/champion entries (pure policy).

    With ``serving``, the challenger's ``footprint`` must also fit the serving budget
    (:func:`budget_checks`)."""
    checks: list[dict[str, Any]] = []
    mine = challenger["overall"]
    if champion is None:
        for metric, minimum in policy.minimums.items():
            value = mine.get(metric)
            ok = value is not None and (value == minimum or m.better(metric, value, minimum))
            checks.append(
                {
                    "name": f"minimum:{metric}",
                    "passed": ok,
                    "detail": f"{metric} {_num(value)} vs minimum {minimum:g} (first model)",
                }
            )
    elif champion.get("error"):
        checks.append(
            {
                "name": "beats_champion",
                "passed": False,
                "detail": f"champion v{champion['version']}: {champion['error']}",
            }
        )
    else:
        ours, theirs = (
            mine.get(policy.primary_metric),
            champion["overall"].get(policy.primary_metric),
        )
        sign = -1.0 if policy.primary_metric in m.LOWER_IS_BETTER else 1.0
        ok = (
            ours is not None
            and theirs is not None
            and (sign * (ours - theirs) >= policy.promotion_margin - 1e-12)
        )
        checks.append(
            {
                "name": "beats_champion",
                "passed": ok,
                "detail": f"{policy.primary_metric} {_num(ours)} vs champion "
                f"v{champion['version']} {_num(theirs)} "
                f"(needs a margin of {policy.promotion_margin:g})",
            }
        )
    for attr, rows in challenger["slices"].items():
        failing = [r for r in rows if r["passed"] is False]
        judged = sum(1 for r in rows if r["judged"])
        detail = (
            "; ".join(
                f"{r['slice']} {_num(r[policy.slice_metric])} is {_num(r['gap'])} below overall"
                for r in failing
            )
            or f"{judged} of {len(rows)} slices judged, none more than "
            f"{policy.max_slice_gap:g} below overall {policy.slice_metric}"
        )
        checks.append({"name": f"slices:{attr}", "passed": not failing, "detail": detail})
    if serving is not None:
        checks.extend(budget_checks(challenger.get("footprint"), serving))
    failed = [c for c in checks if not c["passed"]]
    reason = "; ".join(f"{c['name']}: {c['detail']}" for c in failed) or "every check passed"
    return not failed, checks, reason


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def register_challenger(
    training: Mapping[str, Any],
    *,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    lock_dir: Path | None = None,
    lock_timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Register the training result's best candidate and point the challenger alias at it.

    Under the model's lock: MLflow's alias write is read-then-insert, and two concurrent
    writers of the same alias failed with a UNIQUE constraint error (SQLite store)."""
    spec, mlflow, client = _setup(spec, tracking_uri)
    policy = spec.model
    best = training["best"]
    candidate = next(c for c in training["candidates"] if c["run_id"] == best["run_id"])
    tags = {
        **tracking.lineage_tags(training.get("lineage", {})),
        "family": candidate["family"],
        "training_run_id": training["run_id"],
        "candidate_run_id": candidate["run_id"],
        "data_sha256": training["data_sha256"],
        "features": ",".join(training["features"])[: tracking.MAX_TAG_VALUE],
        # Selection metrics; the holdout metrics follow as gate.* once the gate scored it.
        **{f"validation.{k}": str(v) for k, v in candidate["validation"].items()},
    }
    with promotion_lock(policy.registered_name, lock_dir, timeout_s=lock_timeout_s):
        found = client.search_model_versions(
            f"name = '{policy.registered_name}' and run_id = '{candidate['run_id']}'"
        )
        if found:  # a retried task: the version exists already
            version = str(max(int(v.version) for v in found))
        else:
            registered = mlflow.register_model(
                candidate["model_uri"], policy.registered_name, tags=tags
            )
            version = str(registered.version)
        client.set_registered_model_alias(policy.registered_name, policy.challenger_alias, version)
    log.info("%s v%s registered as %s", policy.registered_name, version, policy.challenger_alias)
    return {
        "model": policy.registered_name,
        "version": version,
        "family": candidate["family"],
        "run_id": candidate["run_id"],
        "training_run_id": training["run_id"],
        "model_uri": f"models:/{policy.registered_name}/{version}",
        "features": list(training["features"]),
        "sensitive": list(training["sensitive"]),
        "holdout_uri": training["holdout_uri"],
        # A training set over model.max_training_rows is a uniform sample (its holdout too).
        "training_sampled": training.get("lineage", {}).get("sampled", "-"),
    }


def _latency(model: Any, holdout: pd.DataFrame, proba: np.ndarray) -> dict[str, Any]:
    """Single-row latency the way serving scores: the unwrapped model's ``predict_array``."""
    inner = model.unwrap_python_model()
    predict_array = getattr(inner, "predict_array", None)
    if predict_array is None:  # logged before the pyfunc had predict_array
        return {"error": f"{type(inner).__name__} has no predict_array"}
    rows = holdout[inner.feature_names].head(LATENCY_ROWS).to_numpy(dtype=np.float32)
    # The instance must be this load's (see _MEASURE): it scores like the frame path did.
    head = np.asarray(predict_array(rows[:8]), dtype=np.float64).reshape(-1)
    if not np.allclose(head, proba[: len(head)], atol=1e-6):
        raise RuntimeError(
            "the unwrapped model scores differently from its pyfunc predict: another load in "
            "this process replaced it; retry the task"
        )
    latency = fp.measure_latency(predict_array, rows)
    return {
        "model_p50_ms": latency.p50_ms,
        "model_p99_ms": latency.p99_ms,
        "model_wall_p99_ms": latency.wall_p99_ms,
        "latency_calls": latency.calls,
        "latency_rounds": latency.rounds,
    }


def _score_version(
    mlflow: Any,
    spec: UseCaseSpec,
    version: str,
    holdout: pd.DataFrame,
    sensitive: list[str],
    fallback_features: list[str],
    *,
    fix_threshold: bool = False,
) -> dict[str, Any]:
    """Metrics, footprint and (``fix_threshold``, the challenger) the operating point of
    a registered version on ``holdout``."""
    policy = spec.model
    uri = f"models:/{policy.registered_name}/{version}"
    with tempfile.TemporaryDirectory(prefix="mlops-gate-model-") as tmp, _MEASURE:
        model = mlflow.pyfunc.load_model(uri, dst_path=tmp)
        footprint: dict[str, Any] = {"model_mb": fp.directory_mb(tmp)}
        schema = model.metadata.get_input_schema()
        features = schema.input_names() if schema is not None else fallback_features
        missing = [f for f in features if f not in holdout.columns]
        if missing:
            # e.g. the feature service changed: no fair comparison is possible, so no promotion.
            return {"version": version, "error": f"cannot be scored, holdout lacks {missing}"}
        proba = predict(model, holdout, list(features))
        footprint.update(_latency(model, holdout, proba))
    entry = {
        "version": version,
        **score_predictions(proba, holdout, sensitive, policy),
        "footprint": footprint,
    }
    if fix_threshold:
        y = holdout[policy.target].to_numpy(dtype=np.int64)
        point = m.threshold_at_fpr(y, proba, spec.serving.target_false_positive_rate)
        entry["operating_point"] = point.as_dict()
    return entry


def compare_with_champion(
    challenger: Mapping[str, Any],
    *,
    holdout: pd.DataFrame | None = None,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Score challenger and current champion on the same holdout; return the comparison."""
    spec, mlflow, client = _setup(spec, tracking_uri)
    policy = spec.model
    if holdout is None:
        holdout = load_holdout(challenger["holdout_uri"])
    features, sensitive = list(challenger["features"]), list(challenger["sensitive"])
    needed = [*features, policy.target, *sensitive]
    missing = [c for c in needed if c not in holdout.columns]
    if missing:
        raise ValueError(f"holdout lacks columns {missing}")
    champion_version = read_champion_version(client, policy)
    mine = _score_version(
        mlflow, spec, challenger["version"], holdout, sensitive, features, fix_threshold=True
    )
    if mine.get("error"):
        raise ValueError(f"challenger v{challenger['version']} {mine['error']}")
    if champion_version == challenger["version"]:
        champion, passed, checks = None, True, []
        reason = f"v{champion_version} is the champion already (a retried task)"
        decision = "already_champion"
    else:
        champion = (
            _score_version(mlflow, spec, champion_version, holdout, sensitive, features)
            if champion_version is not None
            else None
        )
        passed, checks, reason = decide(mine, champion, policy, spec.serving)
        decision = "promote" if passed else "reject"
    ts = holdout.get(spec.names.event_ts)
    return {
        "model": policy.registered_name,
        "primary_metric": policy.primary_metric,
        "margin": policy.promotion_margin,
        "minimums": policy.minimums,
        "slice_metric": policy.slice_metric,
        "max_slice_gap": policy.max_slice_gap,
        "min_slice_rows": policy.min_slice_rows,
        "budget": {
            "model_p99_ms": spec.serving.model_p99_ms,
            "max_model_mb": spec.serving.max_model_mb,
            "target_false_positive_rate": spec.serving.target_false_positive_rate,
        },
        "holdout": {
            "uri": challenger["holdout_uri"],
            "rows": len(holdout),
            "positives": int(holdout[policy.target].sum()),
            "from": ts.min().isoformat() if ts is not None else None,
            "to": ts.max().isoformat() if ts is not None else None,
            "sha256": frame_digest(holdout, needed),
            "sampled": challenger.get("training_sampled", "-"),
        },
        "challenger": {**dict(challenger), **mine},
        "champion": champion,
        "champion_version": champion_version,
        "checks": checks,
        "passed": passed,
        "decision": decision,
        "reason": reason,
    }


def promote(
    comparison: Mapping[str, Any],
    *,
    holdout: pd.DataFrame | None = None,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    lock_dir: Path | None = None,
    lock_timeout_s: float = 300.0,
    raise_on_reject: bool = True,
    reason: str = "",
) -> dict[str, Any]:
    """Act on a comparison: under the lock, re-check the champion, publish the report, and
    move the champion alias if the challenger still passes, unless the spec's
    ``model.approval`` asks a person first (``reason``: why the training ran): then the
    result's decision is ``awaiting_approval`` and the champion stays
    (:mod:`include.registry.approval`). A retired version is never promoted."""
    spec, _, client = _setup(spec, tracking_uri)
    policy = spec.model
    comparison = dict(comparison)
    if comparison["passed"]:
        with promotion_lock(policy.registered_name, lock_dir, timeout_s=lock_timeout_s):
            current = read_champion_version(client, policy)
            if current != comparison["champion_version"]:
                # Someone promoted since the comparison: judge against the new champion.
                log.info(
                    "champion moved from v%s to v%s: re-comparing",
                    comparison["champion_version"],
                    current,
                )
                base = {k: comparison["challenger"][k] for k in _CHALLENGER_KEYS}
                comparison = compare_with_champion(
                    base, holdout=holdout, spec=spec, tracking_uri=tracking_uri
                )
                comparison["rechecked"] = True
            if comparison["decision"] == "promote":
                _refuse_if_retired(client, policy, comparison)
            if comparison["decision"] == "promote":
                needs = approval_reasons(policy.approval, reason=reason, comparison=comparison)
                if needs:
                    return _await_approval(client, policy, comparison, needs)
                # Evidence first, alias last: if anything fails before, nothing moved.
                result = _publish(client, policy, comparison, "promoted")
                version = result["version"]
                client.set_registered_model_alias(
                    policy.registered_name, policy.champion_alias, version
                )
                now = read_champion_version(client, policy)  # read back what serving will load
                if now != version:
                    raise RuntimeError(
                        f"{policy.registered_name}: set {policy.champion_alias} to v{version} "
                        f"but it reads v{now}: another process promoted without the lock"
                    )
                client.set_model_version_tag(
                    policy.registered_name, version, "gate.decision", "promoted"
                )
                log.info(
                    "%s v%s promoted to %s", policy.registered_name, version, policy.champion_alias
                )
                return {**result, "champion_version": version}
    if comparison["decision"] == "already_champion":
        return _publish(client, policy, comparison, "already_champion")
    result = _publish(client, policy, comparison, "rejected")
    client.set_model_version_tag(
        policy.registered_name, result["version"], "gate.decision", "rejected"
    )
    log.warning("%s v%s rejected: %s", policy.registered_name, result["version"], result["reason"])
    if raise_on_reject:
        raise PromotionRejected(result)
    return result


def _refuse_if_retired(client: Any, policy: ModelSpec, comparison: dict[str, Any]) -> None:
    version = str(comparison["challenger"]["version"])
    tags = client.get_model_version(policy.registered_name, version).tags
    if is_retired(tags):
        comparison.update(
            decision="reject",
            passed=False,
            reason=f"v{version} was retired ({tags.get('lifecycle.retired_reason')}): "
            "a retired version is never promoted",
        )


def _await_approval(
    client: Any, policy: ModelSpec, comparison: dict[str, Any], needs: list[str]
) -> dict[str, Any]:
    """The gate passed but a person decides: evidence published, the version stays
    challenger, tagged as awaiting approval; the champion alias does not move."""
    result = _publish(client, policy, comparison, "awaiting_approval")
    version = result["version"]
    client.set_model_version_tag(policy.registered_name, version, STATUS_TAG, "awaiting")
    client.set_model_version_tag(
        policy.registered_name,
        version,
        REQUIRED_BECAUSE_TAG,
        "; ".join(needs)[: tracking.MAX_TAG_VALUE],
    )
    client.set_model_version_tag(
        policy.registered_name, version, "gate.decision", "awaiting_approval"
    )
    log.info(
        "%s v%s passed the gate; awaiting approval: %s", policy.registered_name, version, needs
    )
    return {
        **result,
        "approval": {
            "required_because": needs,
            "timeout_hours": policy.approval.timeout_hours,
            "on_timeout": policy.approval.on_timeout,
        },
    }


_CHALLENGER_KEYS = (
    "model",
    "version",
    "family",
    "run_id",
    "training_run_id",
    "model_uri",
    "features",
    "sensitive",
    "holdout_uri",
)


def _publish(
    client: Any, policy: ModelSpec, comparison: dict[str, Any], decision: str
) -> dict[str, Any]:
    """Log the report (JSON + HTML) on the challenger's run, tag the version with it, the
    gate's metrics, the footprint and the decision threshold (whatever the decision: any
    judged version can be deployed later), and build the result (the decision tag is the
    caller's last step)."""
    challenger = comparison["challenger"]
    version, run_id = str(challenger["version"]), challenger["run_id"]
    comparison["decision"] = decision
    stem = f"{REPORT_DIR}/v{version}-comparison"
    client.log_text(run_id, json.dumps(comparison, indent=2, default=str), f"{stem}.json")
    client.log_text(run_id, render_html(comparison), f"{stem}.html")
    report_uri = f"runs:/{run_id}/{stem}.html"
    tags = {
        "gate.reason": comparison["reason"][: tracking.MAX_TAG_VALUE],
        "gate.report": report_uri,
        "gate.compared_with": str(comparison.get("champion_version") or "none"),
        **{f"gate.{k}": str(v) for k, v in challenger["overall"].items()},
        **footprint_tags(challenger.get("footprint")),
        **threshold_tags(challenger.get("operating_point")),
    }
    for key, value in tags.items():
        client.set_model_version_tag(policy.registered_name, version, key, value)
    promoted = decision in ("promoted", "already_champion")
    return {
        "model": policy.registered_name,
        "version": version,
        "alias": policy.champion_alias if promoted else policy.challenger_alias,
        "promoted": promoted,
        "decision": decision,
        "reason": comparison["reason"],
        "champion_version": comparison.get("champion_version"),
        "report_uri": report_uri,
        "run_ids": {"training": challenger["training_run_id"], "candidate": run_id},
        "comparison": comparison,
    }


def footprint_tags(footprint: Mapping[str, Any] | None) -> dict[str, str]:
    """``gate.model_p50_ms``, ``gate.model_p99_ms``, ``gate.model_mb``: numbers only (what
    is not measured is not tagged), so every ``gate.<metric>`` reader can parse them."""
    got = footprint or {}
    return {f"gate.{k}": repr(float(got[k])) for k in FOOTPRINT_KEYS if got.get(k) is not None}


def threshold_tags(point: Mapping[str, Any] | None) -> dict[str, str]:
    """The decision threshold and what it does on the holdout, as version tags (``repr``:
    the float reads back exactly). Recall is left out when the holdout had no fraud."""
    if not point:
        return {}
    tags = {
        THRESHOLD_TAG: repr(float(point["threshold"])),
        TARGET_FPR_TAG: repr(float(point["target_fpr"])),
        HOLDOUT_FPR_TAG: repr(float(point["fpr"])),
    }
    if point.get("recall") is not None:
        tags[HOLDOUT_RECALL_TAG] = repr(float(point["recall"]))
    return tags


def evaluate_and_promote(
    training: Mapping[str, Any],
    *,
    holdout: pd.DataFrame | None = None,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    lock_dir: Path | None = None,
    raise_on_reject: bool = True,
    reason: str = "",
) -> dict[str, Any]:
    """Register, compare and (maybe) promote the best candidate of a training result
    (``reason``: why it was trained; the approval policy reads it)."""
    challenger = register_challenger(
        training, spec=spec, tracking_uri=tracking_uri, lock_dir=lock_dir
    )
    if holdout is None:
        holdout = load_holdout(training["holdout_uri"])
    comparison = compare_with_champion(
        challenger, holdout=holdout, spec=spec, tracking_uri=tracking_uri
    )
    return promote(
        comparison,
        holdout=holdout,
        spec=spec,
        tracking_uri=tracking_uri,
        lock_dir=lock_dir,
        raise_on_reject=raise_on_reject,
        reason=reason,
    )
