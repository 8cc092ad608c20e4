"""Training tracked in MLflow and the registry gate, against one temporary SQLite MLflow.

Given a week of simulated transactions, ``train_candidates`` logs both families; the gate
registers, compares and promotes by alias. Every test that touches the registry uses its
own registered-model name, so tests do not depend on each other's order. Fault-catalogue
ids (C1, C2, C3, C8, C13, C14, E6) are in the test names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from devtools import sample_data
from include.registry import (
    PromotionLockTimeout,
    PromotionRejected,
    compare_with_champion,
    evaluate_and_promote,
    promote,
    register_challenger,
)
from include.registry.gate import decide
from include.registry.lock import promotion_lock
from include.spec import ApprovalSpec, UseCaseSpec, load_spec
from include.training import train_candidates
from include.training.errors import TrainingDataInvalid, TrainingDiverged

ROOT = Path(__file__).resolve().parents[3]
START = dt.date(2026, 3, 1)
LINEAGE = {
    "partitions": "date=2026-03-01..2026-03-07",
    "feature_service": "fraud_detection_v1",
    "validation_results": "gx-run-1,gx-run-2",
    "git_commit": "0123abcd",
    "dag_run_id": "manual__2026-03-08T00:00:00+00:00",
    "training_set_uri": "/lake/training_sets/manual__2026-03-08T00_00_00_00_00.parquet",
}
# Budget 1 (the family defaults) and few epochs keep each training call ~1-3 s.
FAST = {"tuning_budget": 1, "configs": {"pytorch_mlp": [{"max_epochs": 6}]}, "threads": 2}


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def lock_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("locks")


@pytest.fixture(scope="module")
def spec() -> UseCaseSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml")


def with_policy(spec: UseCaseSpec, name: str, **model: Any) -> UseCaseSpec:
    """The spec with its own registered name (and policy overrides) for one test. No human
    approval unless asked for: these tests judge the automatic gate (approval:
    test_governance.py)."""
    model.setdefault("approval", ApprovalSpec(required_when=()))
    model_spec = dataclasses.replace(spec.model, registered_name=name, **model)
    return dataclasses.replace(spec, model=model_spec)


def with_serving(spec: UseCaseSpec, **serving: Any) -> UseCaseSpec:
    """The spec with serving overrides (the latency and size budget, the target FPR)."""
    return dataclasses.replace(spec, serving=dataclasses.replace(spec.serving, **serving))


@pytest.fixture(scope="module")
def frame(spec: UseCaseSpec) -> pd.DataFrame:
    return sample_data.training_frame(spec, START, 7, rows_per_day=3000)


@pytest.fixture(scope="module")
def good(frame, spec, tracking_uri, client) -> dict[str, Any]:
    return train_candidates(
        frame, sample_data.FEATURES, LINEAGE, spec=spec, tracking_uri=tracking_uri, **FAST
    )


@pytest.fixture(scope="module")
def shuffled(frame, spec, tracking_uri, client) -> dict[str, Any]:
    """Labels shuffled in the training window (a broken label join); the holdout, the newest
    15 %, keeps the true labels, so the gate judges both models on the truth."""
    cut = frame["event_timestamp"].quantile(0.85)
    old = frame["event_timestamp"] < cut
    broken = frame.copy()
    broken.loc[old, "is_fraud"] = np.random.default_rng(0).permutation(broken.loc[old, "is_fraud"])
    return train_candidates(
        broken,
        sample_data.FEATURES,
        {**LINEAGE, "dag_run_id": "shuffled"},
        spec=spec,
        tracking_uri=tracking_uri,
        families=["xgboost"],
        **FAST,
    )


def _gate(training, spec, tracking_uri, lock_dir, **kw) -> dict[str, Any]:
    return evaluate_and_promote(
        training, spec=spec, tracking_uri=tracking_uri, lock_dir=lock_dir, **kw
    )


def _champion(client, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        return None


# ---------------------------------------------------------------------- tracking (train)
def test_a_relative_sqlite_uri_is_refused(tmp_path, monkeypatch) -> None:
    from include.modeling.tracking import resolve_tracking_uri

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="absolute"):
        resolve_tracking_uri("sqlite:///mlflow.db")
    assert not (tmp_path / "mlflow.db").exists()
    assert resolve_tracking_uri(f"sqlite:///{tmp_path}/a/b.db") == f"sqlite:///{tmp_path}/a/b.db"
    assert (tmp_path / "a").is_dir()


def test_candidates_are_tracked_with_everything_a_reviewer_needs(good, client) -> None:
    import mlflow

    json.dumps(good)  # the result goes through XCom: JSON-able
    assert {c["family"] for c in good["candidates"]} == {"xgboost", "pytorch_mlp"}
    assert good["best"]["run_id"] in {c["run_id"] for c in good["candidates"]}
    parent = client.get_run(good["run_id"])
    assert parent.data.tags["data_sha256"] == good["data_sha256"]
    assert parent.data.tags["lineage.git_commit"] == LINEAGE["git_commit"]
    assert parent.data.params["primary_metric"] == "pr_auc"
    assert "holdout/holdout.parquet" in _artifacts(client, good["run_id"])
    for cand in good["candidates"]:
        run = client.get_run(cand["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == good["run_id"]
        assert run.data.tags["lineage.dag_run_id"] == LINEAGE["dag_run_id"]
        for part in ("validation", "holdout"):
            for metric in ("pr_auc", "roc_auc", "recall_at_fpr", "brier", "ece"):
                assert f"{part}/{metric}" in run.data.metrics, (part, metric)
        assert set(cand["config"]) <= set(run.data.params)
        files = _artifacts(client, cand["run_id"])
        for name in ("pr_curve.png", "roc_curve.png", "calibration_curve.png"):
            assert f"plots/{name}" in files
        assert {"feature_importance.json", "tuning/trials.json"} <= files
        trials = client.search_runs(
            [run.info.experiment_id], f"tags.mlflow.parentRunId = '{cand['run_id']}'"
        )
        assert len(trials) == cand["trials"] == 1
        info = mlflow.models.get_model_info(cand["model_uri"])
        assert info.signature.inputs.input_names() == list(sample_data.FEATURES)
        assert info.saved_input_example_info is not None


def test_E6_models_are_data_files_with_pinned_requirements(good) -> None:
    import mlflow

    for cand in good["candidates"]:
        local = Path(mlflow.artifacts.download_artifacts(cand["model_uri"]))
        files = {p.name for p in local.rglob("*") if p.is_file()}
        expected = "model.ubj" if cand["family"] == "xgboost" else "weights.npz"
        assert expected in files and "python_model.pkl" not in files
        assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pt", ".pth"))]
        requirements = (local / "requirements.txt").read_text().split()
        assert all("==" in r for r in requirements), requirements
        assert any(r.startswith("xgboost==") for r in requirements) == (cand["family"] == "xgboost")


def test_E6_logged_models_load_without_pickle_and_give_probabilities(
    good, frame, monkeypatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    rows = frame[list(sample_data.FEATURES)].head(300)[::-1]  # any order of rows is fine
    for cand in good["candidates"]:
        model = mlflow.pyfunc.load_model(cand["model_uri"])
        proba = model.predict(rows[list(reversed(rows.columns))])  # columns by name, too
        assert proba.shape == (300,)
        assert np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1


def test_C8_same_data_and_seed_give_the_same_metrics_and_hash(
    good, frame, spec, tracking_uri
) -> None:
    again = train_candidates(
        frame,
        sample_data.FEATURES,
        LINEAGE,
        spec=spec,
        tracking_uri=tracking_uri,
        families=["xgboost"],
        **FAST,
    )

    first = next(c for c in good["candidates"] if c["family"] == "xgboost")
    assert again["data_sha256"] == good["data_sha256"]
    assert again["candidates"][0]["config"] == first["config"]
    for part in ("validation", "holdout"):
        for metric, value in first[part].items():
            assert again["candidates"][0][part][metric] == pytest.approx(value, abs=1e-6)


def test_C2_diverging_training_fails_its_runs_and_registers_nothing(
    frame, spec, tracking_uri, client
) -> None:
    lineage = {**LINEAGE, "dag_run_id": "c2-diverged"}
    with pytest.raises(TrainingDiverged, match="diverged"):
        train_candidates(
            frame,
            sample_data.FEATURES,
            lineage,
            spec=spec,
            tracking_uri=tracking_uri,
            families=["pytorch_mlp"],
            tuning_budget=1,
            configs={"pytorch_mlp": [{"lr": 1e3, "max_epochs": 2}]},
        )

    exp = client.get_experiment_by_name(spec.name)
    runs = client.search_runs([exp.experiment_id], "tags.`lineage.dag_run_id` = 'c2-diverged'")
    assert runs and {r.info.status for r in runs} == {"FAILED"}
    assert all("TrainingDiverged" in r.data.tags["error"] for r in runs)
    for run in runs:
        assert client.search_model_versions(f"run_id = '{run.info.run_id}'") == []


def test_C2_nan_labels_are_refused_before_any_run(frame, spec, tracking_uri, client) -> None:
    broken = frame.assign(is_fraud=frame["is_fraud"].astype(float))
    broken.loc[broken.index[:10], "is_fraud"] = np.nan
    exp = client.get_experiment_by_name(spec.name)
    before = len(client.search_runs([exp.experiment_id], max_results=1000))

    with pytest.raises(TrainingDataInvalid, match="is_fraud"):
        train_candidates(
            broken, sample_data.FEATURES, LINEAGE, spec=spec, tracking_uri=tracking_uri, **FAST
        )

    assert len(client.search_runs([exp.experiment_id], max_results=1000)) == before


# ------------------------------------------------------------------------- the gate
def test_first_model_is_promoted_when_it_reaches_the_minimums(
    good, spec, tracking_uri, lock_dir, client, frame, monkeypatch
) -> None:
    import mlflow

    name = "fraud_first"
    result = _gate(good, with_policy(spec, name), tracking_uri, lock_dir)

    json.dumps(result)
    assert result["promoted"] and result["decision"] == "promoted"
    assert (result["model"], result["version"], result["alias"]) == (name, "1", "champion")
    assert _champion(client, name) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "1"
    checks = {c["name"]: c["passed"] for c in result["comparison"]["checks"]}
    assert checks == {
        "minimum:pr_auc": True,
        "minimum:roc_auc": True,
        "slices:customer_age_band": True,
        "latency_budget": True,
        "size_budget": True,
    }
    version = client.get_model_version(name, "1")
    for key, value in LINEAGE.items():
        assert version.tags[f"lineage.{key}"] == value
    assert version.tags["gate.decision"] == "promoted"
    assert result["comparison"]["holdout"]["sampled"] == "-"  # LINEAGE: the whole window
    assert (
        float(version.tags["gate.pr_auc"])
        == result["comparison"]["challenger"]["overall"]["pr_auc"]
    )
    assert version.tags["data_sha256"] == good["data_sha256"]
    assert version.run_id == good["best"]["run_id"]
    report = Path(
        mlflow.artifacts.download_artifacts(version.tags["gate.report"].replace(".html", ".json"))
    )
    assert json.loads(report.read_text())["decision"] == "promoted"
    # What serving does: load the champion by alias, with pickle disallowed.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    served = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    proba = served.predict(frame[list(sample_data.FEATURES)].tail(500))
    assert proba.shape == (500,) and ((proba >= 0) & (proba <= 1)).all()


def test_first_model_below_the_minimums_is_not_promoted(
    good, spec, tracking_uri, lock_dir, client
) -> None:
    name = "fraud_too_weak"
    strict = with_policy(spec, name, minimums={"pr_auc": 0.99, "roc_auc": 0.75})

    with pytest.raises(PromotionRejected, match="minimum:pr_auc") as caught:
        _gate(good, strict, tracking_uri, lock_dir)

    assert caught.value.result["promoted"] is False
    assert caught.value.result["alias"] == "challenger"
    assert _champion(client, name) is None
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "1"


def test_a_retried_gate_reuses_its_version(good, spec, tracking_uri, lock_dir, client) -> None:
    policy = with_policy(spec, "fraud_retry")

    first = _gate(good, policy, tracking_uri, lock_dir)
    again = _gate(good, policy, tracking_uri, lock_dir)

    assert first["version"] == again["version"] == "1"
    assert again["decision"] == "already_champion" and again["promoted"]
    assert len(client.search_model_versions("name = 'fraud_retry'")) == 1


def test_C1_shuffled_labels_are_rejected_and_the_champion_stays(
    good, shuffled, spec, tracking_uri, lock_dir, client
) -> None:
    policy = with_policy(spec, "fraud_c1")
    _gate(good, policy, tracking_uri, lock_dir)

    with pytest.raises(PromotionRejected, match="beats_champion") as caught:
        _gate(shuffled, policy, tracking_uri, lock_dir)

    result = caught.value.result
    assert (result["version"], result["promoted"], result["alias"]) == ("2", False, "challenger")
    assert _champion(client, "fraud_c1") == "1"
    assert str(client.get_model_version_by_alias("fraud_c1", "challenger").version) == "2"
    comparison = caught.value.comparison
    assert comparison["champion"]["version"] == "1"
    for side in ("champion", "challenger"):
        assert comparison[side]["overall"]["pr_auc"] is not None
        assert {r["slice"] for r in comparison[side]["slices"]["customer_age_band"]} >= {
            "18-25",
            "65+",
        }
    assert (
        comparison["challenger"]["overall"]["pr_auc"] < comparison["champion"]["overall"]["pr_auc"]
    )
    assert client.get_model_version("fraud_c1", "2").tags["gate.decision"] == "rejected"
    assert "v2" in str(caught.value) and "Champion unchanged (v1)" in str(caught.value)


LENIENT = {"minimums": {}, "max_slice_gap": 1.0}  # both models may become a first champion


def test_C3_concurrent_promotions_leave_one_champion_the_better(
    good, shuffled, spec, tracking_uri, lock_dir, client
) -> None:
    policy = with_policy(spec, "fraud_c3", **LENIENT)
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def run(label: str, training: dict[str, Any]) -> None:
        barrier.wait()
        try:
            results[label] = _gate(training, policy, tracking_uri, lock_dir, raise_on_reject=False)
        except Exception as exc:  # surfaced by the asserts below
            results[label] = exc

    threads = [threading.Thread(target=run, args=a) for a in (("good", good), ("bad", shuffled))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    better, worse = results["good"], results["bad"]
    assert isinstance(better, dict) and isinstance(worse, dict), results
    assert better["promoted"]
    assert _champion(client, "fraud_c3") == better["version"]
    if worse["promoted"]:  # the worse one got there first; the better one then beat it
        assert better["comparison"]["champion_version"] == worse["version"]
    else:
        assert worse["comparison"]["champion_version"] == better["version"]


def test_C3_promotion_rechecks_a_champion_that_changed_after_the_comparison(
    good, shuffled, spec, tracking_uri, lock_dir, client
) -> None:
    policy = with_policy(spec, "fraud_c3_recheck", **LENIENT)
    worse = register_challenger(shuffled, spec=policy, tracking_uri=tracking_uri, lock_dir=lock_dir)
    stale = compare_with_champion(worse, spec=policy, tracking_uri=tracking_uri)
    assert stale["passed"] and stale["champion_version"] is None  # would win without a check

    winner = _gate(good, policy, tracking_uri, lock_dir)
    result = promote(
        stale, spec=policy, tracking_uri=tracking_uri, lock_dir=lock_dir, raise_on_reject=False
    )

    assert result["comparison"]["rechecked"] and not result["promoted"]
    assert result["comparison"]["champion_version"] == winner["version"]
    assert _champion(client, "fraud_c3_recheck") == winner["version"]


def test_C3_promotion_waits_for_the_lock_and_times_out_clearly(lock_dir) -> None:
    with (
        promotion_lock("fraud_locked", lock_dir),
        pytest.raises(PromotionLockTimeout, match="still held"),
        promotion_lock("fraud_locked", lock_dir, timeout_s=0.2),
    ):
        pass
    with promotion_lock("fraud_locked", lock_dir, timeout_s=0.2):
        pass  # released: free again


# ---------------------------------------------------------------- the policy, pure
def _entry(pr_auc: float, slice_gaps: dict[str, float | None]) -> dict[str, Any]:
    rows = [
        {
            "slice": s,
            "rows": 500,
            "positives": 10,
            "roc_auc": 0.9 - (g or 0),
            "gap": g,
            "judged": g is not None,
            "passed": None if g is None else g <= 0.1,
        }
        for s, g in slice_gaps.items()
    ]
    return {
        "version": "7",
        "overall": {"pr_auc": pr_auc, "roc_auc": 0.9},
        "slices": {"customer_age_band": rows},
    }


@pytest.mark.parametrize(
    ("challenger", "champion", "passed", "failing"),
    [
        (0.505, 0.500, True, []),  # exactly the margin
        (0.504, 0.500, False, ["beats_champion"]),
        (0.600, None, True, []),  # first model: minimums only
        (0.150, None, False, ["minimum:pr_auc"]),
    ],
)
def test_gate_policy_margin_and_minimums(spec, challenger, champion, passed, failing) -> None:
    policy = spec.model
    champ = _entry(champion, {}) if champion is not None else None

    ok, checks, reason = decide(_entry(challenger, {"18-25": 0.02}), champ, policy)

    assert ok is passed
    assert [c["name"] for c in checks if not c["passed"]] == failing
    assert (reason == "every check passed") is passed


def test_gate_policy_rejects_an_unfair_slice_even_when_better(spec) -> None:
    policy = spec.model

    ok, checks, reason = decide(
        _entry(0.9, {"18-25": 0.02, "65+": 0.25, "(missing)": None}), _entry(0.5, {}), policy
    )

    assert not ok
    assert "65+" in reason and "18-25" not in reason
    assert {c["name"]: c["passed"] for c in checks} == {
        "beats_champion": True,
        "slices:customer_age_band": False,
    }


def _artifacts(client: Any, run_id: str, path: str | None = None) -> set[str]:
    out: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return out


# ----------------------------------------------------------- the champion lookup (issue 7)
def test_no_model_or_no_alias_means_no_champion(spec, client) -> None:
    from include.registry.read import champion_version

    policy = with_policy(spec, "never_registered").model
    assert champion_version(client, policy) is None
    client.create_registered_model("registered_without_alias")
    policy = with_policy(spec, "registered_without_alias").model
    assert champion_version(client, policy) is None


def test_B5_an_unreachable_registry_fails_instead_of_meaning_no_champion(spec, monkeypatch) -> None:
    """Otherwise a challenger would be judged on the first-model minimums alone and could
    replace a champion it was never compared with."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from include.registry.read import champion_version

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens once the socket is closed
    down = MlflowClient(f"http://127.0.0.1:{closed}")
    with pytest.raises(MlflowException):
        champion_version(down, with_policy(spec, "fraud_is_fraud").model)


# ------------------------------------------- the triggers and the gate made correct (issue 7)
def test_C9_a_retrain_on_the_champions_own_training_set_is_skipped(
    good, frame, spec, tracking_uri, lock_dir, client, tmp_path
) -> None:
    """Same rows, same split: the digest equals the champion's ``data_sha256``, so training
    stops before any run instead of producing a copy (or a rejection mail)."""
    from include import storage
    from include.data import lake
    from include.registry.read import champion
    from include.steps.train_model import TrainingSetUnchanged, train

    named = with_policy(spec, "retrain_same_data")
    assert _gate(good, named, tracking_uri, lock_dir)["promoted"]
    current = champion(named, tracking_uri)
    assert current is not None and current.data_sha256 == good["data_sha256"]
    uri = str(tmp_path / "training_set.parquet")
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))
    runs_before = len(client.search_runs([good["experiment_id"]]))
    training_set = {"uri": uri, "features": good["features"], "lineage": LINEAGE}
    with pytest.raises(TrainingSetUnchanged, match=f"champion v{current.version}"):
        train(training_set, families=None, tuning_budget=1, spec=named, tracking_uri=tracking_uri)
    assert len(client.search_runs([good["experiment_id"]])) == runs_before  # nothing trained


def _judged_on(frame, named, tracking_uri, lock_dir, tmp_path, name: str, **kw) -> dict:
    """``frame`` written where the lineage says, an XGBoost candidate trained on it, gated."""
    from include import storage
    from include.data import lake

    uri = str(tmp_path / f"{name}.parquet")
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))
    training = train_candidates(
        frame,
        sample_data.FEATURES,
        {**LINEAGE, "training_set_uri": uri, "dag_run_id": name},
        spec=named,
        tracking_uri=tracking_uri,
        families=["xgboost"],
        **FAST,
    )
    return _gate(training, named, tracking_uri, lock_dir, **kw)


def _written(frame, tmp_path, name: str) -> str:
    from include import storage
    from include.data import lake

    uri = str(tmp_path / f"{name}.parquet")
    storage.write_bytes(uri, lake.to_parquet_bytes(frame))
    return uri


def test_C19_an_automatic_run_on_rows_the_newest_judged_version_saw_is_skipped(
    frame, spec, tracking_uri, lock_dir, tmp_path
) -> None:
    """A day's transactions trigger features but add no matured label: the window is the
    champion's minus its oldest day (another digest, nothing new). The run that new features
    started skips (build_training_set asks before the join); a person's run on the same data
    trains."""
    from include.registry.read import champion
    from include.steps.train_model import nothing_new, train

    named = with_policy(spec, "automatic_nothing_new")
    assert _judged_on(frame, named, tracking_uri, lock_dir, tmp_path, "v1")["promoted"]
    current = champion(named, tracking_uri)
    newest_day = frame["event_timestamp"].dt.floor("D")
    smaller = frame[newest_day > newest_day.min()].reset_index(drop=True)
    why = nothing_new(smaller, named, tracking_uri, current)
    assert why is not None and f"{len(smaller)} labelled events" in why
    assert f"v{current.version} (promoted, the champion)" in why
    # a person's run (Params) on the same window is not an automatic one: it trains
    training_set = {
        "uri": _written(smaller, tmp_path, "smaller"),
        "features": sample_data.FEATURES,
        "lineage": LINEAGE,
    }
    result = train(
        training_set, families=["xgboost"], tuning_budget=1, spec=named, tracking_uri=tracking_uri
    )
    assert result["data_sha256"] != current.data_sha256


def test_C19_a_rejected_candidate_is_not_trained_again_on_the_same_rows(
    frame, spec, tracking_uri, lock_dir, tmp_path
) -> None:
    from include.registry.read import champion
    from include.steps.train_model import nothing_new

    named = with_policy(spec, "automatic_after_rejection")
    assert _judged_on(frame, named, tracking_uri, lock_dir, tmp_path, "champ")["promoted"]
    # labels shuffled before the holdout (a broken label join): the gate rejects it
    old = frame["event_timestamp"] < frame["event_timestamp"].quantile(0.85)
    broken = frame.copy()
    broken.loc[old, "is_fraud"] = np.random.default_rng(1).permutation(broken.loc[old, "is_fraud"])
    rejected = _judged_on(
        broken, named, tracking_uri, lock_dir, tmp_path, "broken", raise_on_reject=False
    )
    assert rejected["decision"] == "rejected"
    current = champion(named, tracking_uri)
    # the rejected version saw every row of the same window with the same labels: nothing new
    why = nothing_new(broken, named, tracking_uri, current)
    assert why is not None
    assert f"v{rejected['version']} (rejected against champion v{current.version})" in why
    # one more labelled event, or one label that changed, is news: the run trains
    extra = frame.tail(1).assign(transaction_id="a-new-event")
    assert nothing_new(pd.concat([broken, extra]), named, tracking_uri, current) is None
    relabelled = broken.copy()
    relabelled.loc[0, "is_fraud"] = 1 - relabelled.loc[0, "is_fraud"]
    assert nothing_new(relabelled, named, tracking_uri, current) is None


def test_C19_a_version_judged_against_another_champion_is_no_reason_to_skip(
    frame, spec, tracking_uri, lock_dir, tmp_path
) -> None:
    from include.registry.read import RegisteredVersion
    from include.steps.train_model import nothing_new

    named = with_policy(spec, "automatic_champion_changed")
    assert _judged_on(frame, named, tracking_uri, lock_dir, tmp_path, "first")["promoted"]
    other = RegisteredVersion(
        name=named.model.registered_name,
        version="99",  # e.g. a rollback to a version the newest judged one never met
        alias="champion",
        model_uri="models:/x/99",
        family=None,
        features=[],
        data_sha256=None,
        training_set_uri=None,
        training_run_id=None,
        holdout_uri=None,
    )
    assert nothing_new(frame, named, tracking_uri, other) is None


def test_the_registry_read_api_describes_the_champion(good, spec, tracking_uri, lock_dir) -> None:
    from include.registry.read import champion

    named = with_policy(spec, "read_api")
    assert champion(named, tracking_uri) is None
    result = _gate(good, named, tracking_uri, lock_dir)
    current = champion(named, tracking_uri)
    assert current.version == result["version"]
    assert current.model_uri == f"models:/read_api/{result['version']}"  # exact, not the alias
    assert current.features == good["features"]
    assert current.holdout_uri == good["holdout_uri"]
    assert current.holdout_metrics[spec.model.primary_metric] > 0
    assert current.training_set_uri == LINEAGE.get("training_set_uri")


def test_C10_a_rejection_mail_is_not_repeated_for_the_same_cause_within_the_cooldown(
    spec, tracking_uri, client
) -> None:
    from datetime import UTC, datetime, timedelta

    from include.registry.alerts import claim_rejection_mail

    named = with_policy(spec, "cooldown", rejection_mail_cooldown_hours=24.0)
    client.create_registered_model("cooldown")
    margin = {
        "champion_version": "3",
        "comparison": {"checks": [{"name": "margin", "passed": False}]},
    }
    slices = {
        "champion_version": "3",
        "comparison": {"checks": [{"name": "slices:customer_age_band", "passed": False}]},
    }
    t0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
    claim = dict(spec=named, tracking_uri=tracking_uri)
    assert claim_rejection_mail(margin, now=t0, **claim) is True
    assert claim_rejection_mail(margin, now=t0 + timedelta(hours=2), **claim) is False
    assert claim_rejection_mail(slices, now=t0 + timedelta(hours=3), **claim) is True  # new cause
    assert claim_rejection_mail(margin, now=t0 + timedelta(hours=4), **claim) is True  # changed
    assert claim_rejection_mail(margin, now=t0 + timedelta(hours=5), **claim) is False
    assert claim_rejection_mail(margin, now=t0 + timedelta(hours=29), **claim) is True  # expired


# ------------------------------------- the serving budget and the decision threshold (C13, C14)
THRESHOLD_TAGS = ("serving.threshold", "serving.target_fpr", "serving.holdout_fpr")


@pytest.mark.parametrize(
    ("budget", "failing"),
    [({"model_p99_ms": 1e-6}, "latency_budget"), ({"max_model_mb": 1e-6}, "size_budget")],
)
def test_C13_a_candidate_over_the_serving_budget_cannot_become_champion(
    good, spec, tracking_uri, lock_dir, client, budget, failing
) -> None:
    name = f"fraud_c13_{failing}"
    tight = with_serving(with_policy(spec, name), **budget)

    with pytest.raises(PromotionRejected, match=failing) as caught:
        _gate(good, tight, tracking_uri, lock_dir)

    result = caught.value.result
    assert _champion(client, name) is None and result["alias"] == "challenger"
    checks = {c["name"]: c["passed"] for c in result["comparison"]["checks"]}
    assert [k for k, ok in checks.items() if not ok] == [failing]  # the metrics were fine
    tags = client.get_model_version(name, result["version"]).tags
    assert tags["gate.decision"] == "rejected"
    assert failing in tags["gate.reason"]
    measured = {k: float(tags[f"gate.{k}"]) for k in ("model_p50_ms", "model_p99_ms", "model_mb")}
    assert 0 < measured["model_p50_ms"] <= measured["model_p99_ms"]
    assert 0 < measured["model_mb"] < spec.serving.max_model_mb
    # a rejected version gets its threshold too: it may be deployed later (a rollback)
    assert all(k in tags for k in THRESHOLD_TAGS)


def test_C14_the_gate_fixes_the_threshold_on_the_holdout_and_stores_it_with_the_version(
    good, spec, tracking_uri, lock_dir, client
) -> None:
    import mlflow

    from include.registry.gate import load_holdout
    from include.registry.read import champion, model_version

    named = with_serving(with_policy(spec, "fraud_c14"), target_false_positive_rate=0.02)
    result = _gate(good, named, tracking_uri, lock_dir)
    assert result["promoted"]
    checks = {c["name"]: c["passed"] for c in result["comparison"]["checks"]}
    assert checks["latency_budget"] and checks["size_budget"]  # within the spec's budget

    # then the champion read back carries the threshold tagged on its version
    current = champion(named, tracking_uri)
    tags = client.get_model_version("fraud_c14", result["version"]).tags
    assert current.threshold == float(tags["serving.threshold"]) == current.require_threshold()
    assert tags["serving.target_fpr"] == "0.02"
    point = result["comparison"]["challenger"]["operating_point"]
    assert current.threshold == point["threshold"]
    assert set(current.footprint) == {"model_p50_ms", "model_p99_ms", "model_mb"}
    # and it is what the rule gives on the holdout, scored as serving scores (predict_array)
    holdout = load_holdout(good["holdout_uri"])
    model = mlflow.pyfunc.load_model(current.model_uri).unwrap_python_model()
    scores = model.predict_array(holdout[model.feature_names].to_numpy(np.float32))
    y = holdout["is_fraud"].to_numpy()
    flagged = scores >= current.threshold
    assert flagged[y == 0].mean() == float(tags["serving.holdout_fpr"]) <= 0.02
    assert flagged[y == 1].mean() == float(tags["serving.holdout_recall"]) > 0
    below = scores[scores < current.threshold]
    if len(below):  # the lowest such threshold: one score lower would exceed the budget
        assert (scores[y == 0] >= below.max()).mean() > 0.02
    # any version reads the same way, by number or by alias
    pinned = model_version(result["version"], named, tracking_uri)
    assert (pinned.threshold, pinned.model_uri, pinned.alias) == (
        current.threshold,
        f"models:/fraud_c14/{result['version']}",
        "",
    )
    assert "champion" in pinned.aliases and pinned.features == good["features"]
    assert model_version("champion", named, tracking_uri).version == result["version"]


def test_C14_a_version_registered_before_thresholds_were_stored_cannot_be_deployed_as_is(
    good, spec, tracking_uri, lock_dir, client
) -> None:
    from include.registry import ModelVersionNotFound, ThresholdMissing
    from include.registry.read import champion, model_version

    named = with_policy(spec, "fraud_c14_old")
    version = _gate(good, named, tracking_uri, lock_dir)["version"]
    for key in THRESHOLD_TAGS:  # what a version from before this change looks like
        client.delete_model_version_tag("fraud_c14_old", version, key)

    old = model_version(version, named, tracking_uri)
    assert old.threshold is None and champion(named, tracking_uri).threshold is None
    with pytest.raises(ThresholdMissing, match=f"fraud_c14_old v{version} .* retrain"):
        old.require_threshold()
    with pytest.raises(ModelVersionNotFound, match="no version 99"):
        model_version("99", named, tracking_uri)
    with pytest.raises(ModelVersionNotFound, match="no alias 'production'"):
        model_version("production", named, tracking_uri)
