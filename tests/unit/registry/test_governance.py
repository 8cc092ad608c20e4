"""Human approval of promotions and retirement of versions, against a real SQLite MLflow.

Versions are registered cheaply (``create_model_version`` on a placeholder source): these
tests judge aliases, tags and records, not models. Each test has its own model name.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from include.registry.approval import (
    ApprovalAnswer,
    ApprovalOutdated,
    approval_markdown,
    approval_reasons,
    approve,
    parse_answer,
    record_decision,
)
from include.registry.errors import (
    ModelVersionNotFound,
    RetirementRefused,
    VersionRetired,
)
from include.registry.gate import promote
from include.registry.retire import is_retired, refuse_retired, retire
from include.spec import ApprovalSpec, SpecError, UseCaseSpec, load_spec

ROOT = Path(__file__).resolve().parents[3]


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def base_spec() -> UseCaseSpec:
    return load_spec(ROOT / "usecase" / "fraud.yaml")


def spec_for(spec: UseCaseSpec, name: str, **approval: Any) -> UseCaseSpec:
    policy = dataclasses.replace(spec.model.approval, **approval)
    model = dataclasses.replace(spec.model, registered_name=name, approval=policy)
    return dataclasses.replace(spec, model=model)


def registered(client: Any, name: str, versions: int) -> list[str]:
    """``versions`` versions of a fresh registered model, each with its own run."""
    client.create_registered_model(name)
    from include.modeling import tracking

    # Artifacts beside the test's SQLite store, not in ./mlruns of the working directory.
    exp_id = tracking.ensure_experiment("governance")
    out = []
    for _ in range(versions):
        run = client.create_run(exp_id)
        mv = client.create_model_version(
            name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        )
        out.append(str(mv.version))
    return out


def champ(client: Any, name: str, alias: str = "champion") -> str:
    return str(client.get_model_version_by_alias(name, alias).version)


def slices(*gaps: float | None, judged: bool = True) -> dict[str, list[dict[str, Any]]]:
    return {
        "customer_age_band": [
            {
                "slice": band,
                "rows": 500,
                "positives": 9,
                "gap": gap,
                "judged": judged,
                "passed": True,
                "roc_auc": 0.8,
            }
            for band, gap in zip(("18-25", "26-35"), gaps, strict=False)
        ]
    }


def comparison(mine: dict, theirs: dict | None) -> dict[str, Any]:
    return {"challenger": {"slices": mine}, "champion": {"slices": theirs} if theirs else None}


# ------------------------------------------------------------------------- the policy
def test_no_condition_holds_so_no_approval() -> None:
    policy = ApprovalSpec(required_when=("drift_retrain", "slice_gap_grew"))
    same = comparison(slices(0.02, 0.03), slices(0.02, 0.03))
    assert approval_reasons(policy, reason="", comparison=same) == []
    assert approval_reasons(policy, reason="manual backfill", comparison=same) == []


def test_a_monitoring_retrain_needs_approval_only_when_listed() -> None:
    same = comparison(slices(0.02), slices(0.02))
    drift = "monitoring: quality breach on 2026-11-21..2026-11-23"
    needs = approval_reasons(
        ApprovalSpec(required_when=("drift_retrain",)), reason=drift, comparison=same
    )
    assert len(needs) == 1 and needs[0].startswith("drift_retrain")
    assert approval_reasons(ApprovalSpec(required_when=()), reason=drift, comparison=same) == []
    assert (
        approval_reasons(
            ApprovalSpec(required_when=("slice_gap_grew",)), reason=drift, comparison=same
        )
        == []
    )


def test_a_grown_slice_gap_needs_approval_beyond_the_tolerance() -> None:
    policy = ApprovalSpec(required_when=("slice_gap_grew",), slice_gap_tolerance=0.01)
    grew = comparison(slices(0.02, 0.08), slices(0.02, 0.03))
    needs = approval_reasons(policy, reason="", comparison=grew)
    assert len(needs) == 1 and "customer_age_band=26-35" in needs[0], needs
    assert "0.0300 below overall under the champion, 0.0800 below overall now" in needs[0]
    above = comparison(slices(0.02, -0.01), slices(0.02, -0.05))  # still above, less so
    assert (
        "0.0500 above overall under the champion, 0.0100 above overall now"
        in (approval_reasons(policy, reason="", comparison=above)[0])
    )
    # within the tolerance, or only on a slice too small to be judged: no approval
    small = comparison(slices(0.02, 0.035), slices(0.02, 0.03))
    assert approval_reasons(policy, reason="", comparison=small) == []
    unjudged = comparison(slices(0.02, 0.09, judged=False), slices(0.02, 0.03))
    assert approval_reasons(policy, reason="", comparison=unjudged) == []
    # no champion (a first model): nothing to compare a gap with
    assert approval_reasons(policy, reason="", comparison=comparison(slices(0.5), None)) == []


def test_always_asks_even_for_a_first_model() -> None:
    needs = approval_reasons(
        ApprovalSpec(required_when=("always",)), reason="", comparison=comparison({}, None)
    )
    assert needs and needs[0].startswith("always")


# -------------------------------------------------------------------------- the spec
def _spec_with(tmp_path: Path, approval: Any) -> Path:
    import yaml

    raw = yaml.safe_load((ROOT / "usecase" / "fraud.yaml").read_text())
    raw["model"]["approval"] = approval
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_bundled_spec_asks_on_drift_retrains_and_grown_slice_gaps(base_spec) -> None:
    policy = base_spec.model.approval
    assert policy.required_when == ("drift_retrain", "slice_gap_grew")
    assert policy.on_timeout == "reject" and policy.timeout_answer == "Reject"


def test_spec_loader_names_an_unknown_condition(tmp_path) -> None:
    with pytest.raises(
        SpecError,
        match=r"model\.approval\.required_when\[0\]: must be one of 'always', .*got 'drfit'",
    ):
        load_spec(_spec_with(tmp_path, {"required_when": ["drfit"]}))
    with pytest.raises(
        SpecError, match=r"model\.approval\.required_when: must be a list, got 'always'"
    ):
        load_spec(_spec_with(tmp_path, {"required_when": "always"}))
    with pytest.raises(
        SpecError, match=r"model\.approval\.on_timeout: must be one of 'reject' or 'approve'"
    ):
        load_spec(_spec_with(tmp_path, {"on_timeout": "maybe"}))
    with pytest.raises(
        SpecError,
        match=r"model\.approval\.requried_when: unknown key \(did you mean 'required_when'\?\)",
    ):
        load_spec(_spec_with(tmp_path, {"requried_when": []}))
    never = load_spec(_spec_with(tmp_path, {"required_when": [], "on_timeout": "approve"}))
    assert (
        never.model.approval.required_when == ()
        and never.model.approval.timeout_answer == "Approve"
    )


# ------------------------------------------------------------------------- the answer
def test_parse_answer_tells_a_person_from_the_timeout() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    person = parse_answer(
        {
            "chosen_options": ["Reject"],
            "params_input": {"comment": "slice 65+ worse"},
            "responded_at": at,
            "responded_by_user": {"id": "7", "name": "alice"},
        }
    )
    assert person == ApprovalAnswer("rejected", "alice", at.isoformat(), "slice 65+ worse", False)
    timeout = parse_answer(
        {
            "chosen_options": ["Reject"],
            "params_input": {},
            "responded_at": at,
            "responded_by_user": None,
        }
    )
    assert timeout is not None and timeout.timed_out and timeout.by.startswith("timeout")
    assert parse_answer(None) is None and parse_answer({"chosen_options": []}) is None


def test_approval_body_shows_figures_reasons_and_the_link() -> None:
    result = {
        "model": "m",
        "version": "4",
        "champion_version": "3",
        "report_uri": "runs:/r/gate/v4.html",
        "approval": {"required_because": ["drift_retrain: monitoring"]},
        "comparison": {
            "primary_metric": "pr_auc",
            "challenger": {"overall": {"pr_auc": 0.61}},
            "champion": {"overall": {"pr_auc": 0.55}},
            "checks": [{"name": "beats_champion", "passed": True, "detail": "ok"}],
        },
    }
    body = approval_markdown(result, "http://h/mlops/lake/reports/promotion/m/v4/comparison.html")
    assert "| **pr_auc** | 0.6100 | 0.5500 |" in body
    assert "drift_retrain: monitoring" in body and "(http://h/mlops/lake/reports/promotion" in body


# ------------------------------------------------------------- the acts, real registry
ANSWER = ApprovalAnswer("approved", "alice", "2026-12-01T09:30:00+00:00", "looks right", False)


def test_approve_moves_the_champion_and_tags_who_and_when(
    client, tracking_uri, base_spec, tmp_path
) -> None:
    spec = spec_for(base_spec, "gov_approve")
    v1, v2 = registered(client, "gov_approve", 2)
    client.set_registered_model_alias("gov_approve", "champion", v1)
    result = {"model": "gov_approve", "version": v2, "champion_version": v1, "comparison": {}}
    promoted = approve(result, ANSWER, spec=spec, tracking_uri=tracking_uri, lock_dir=tmp_path)
    assert promoted["promoted"] and promoted["champion_version"] == v2
    assert champ(client, "gov_approve", "champion") == v2
    tags = client.get_model_version("gov_approve", v2).tags
    assert tags["approval.decision"] == "approved" and tags["approval.by"] == "alice"
    assert tags["gate.decision"] == "promoted"
    # a retried task changes nothing
    assert (
        approve(result, ANSWER, spec=spec, tracking_uri=tracking_uri, lock_dir=tmp_path)[
            "champion_version"
        ]
        == v2
    )


def test_an_approval_of_an_outdated_comparison_is_refused(
    client, tracking_uri, base_spec, tmp_path
) -> None:
    spec = spec_for(base_spec, "gov_outdated")
    v1, v2, v3 = registered(client, "gov_outdated", 3)
    client.set_registered_model_alias("gov_outdated", "champion", v3)  # moved since
    result = {"model": "gov_outdated", "version": v2, "champion_version": v1}
    with pytest.raises(ApprovalOutdated, match="trigger train_model"):
        approve(result, ANSWER, spec=spec, tracking_uri=tracking_uri, lock_dir=tmp_path)
    assert champ(client, "gov_outdated", "champion") == v3


def test_a_rejection_is_tagged_and_recorded_and_the_champion_stays(
    client, tracking_uri, base_spec, tmp_path
) -> None:
    spec = spec_for(base_spec, "gov_reject")
    v1, v2 = registered(client, "gov_reject", 2)
    client.set_registered_model_alias("gov_reject", "champion", v1)
    result = {
        "model": "gov_reject",
        "version": v2,
        "champion_version": v1,
        "approval": {"required_because": ["slice_gap_grew: x"]},
        "report_uri": "runs:/r/x.html",
    }
    no = ApprovalAnswer("rejected", "bob", "2026-12-01T10:00:00+00:00", "65+ slice", False)
    lake = str(tmp_path / "lake")
    rec = record_decision(
        result, no, lake_uri=lake, run_id="manual__1", spec=spec, tracking_uri=tracking_uri
    )
    tags = client.get_model_version("gov_reject", v2).tags
    assert {
        k: tags[k]
        for k in ("approval.decision", "approval.by", "approval.comment", "approval.timed_out")
    } == {
        "approval.decision": "rejected",
        "approval.by": "bob",
        "approval.comment": "65+ slice",
        "approval.timed_out": "false",
    }
    assert champ(client, "gov_reject", "champion") == v1
    on_disk = json.loads(Path(rec["uri"]).read_text())
    assert rec["uri"] == f"{lake}/registry/approvals/gov_reject/v{v2}.json"
    assert on_disk["decision"] == "rejected" and on_disk["required_because"] == [
        "slice_gap_grew: x"
    ]


def _comparison(client: Any, name: str, version: str, champion: str) -> dict[str, Any]:
    run_id = client.get_model_version(name, version).run_id
    return {
        "model": name,
        "primary_metric": "pr_auc",
        "passed": True,
        "decision": "promote",
        "reason": "every check passed",
        "checks": [],
        "champion_version": champion,
        "challenger": {
            "model": name,
            "version": version,
            "run_id": run_id,
            "training_run_id": run_id,
            "overall": {"pr_auc": 0.6},
            "slices": slices(0.02),
            "footprint": {},
        },
        "champion": {"version": champion, "overall": {"pr_auc": 0.5}, "slices": slices(0.02)},
    }


def test_gate_waits_for_approval_of_a_drift_retrain(
    client, tracking_uri, base_spec, tmp_path
) -> None:
    spec = spec_for(base_spec, "gov_gate")
    v1, v2 = registered(client, "gov_gate", 2)
    client.set_registered_model_alias("gov_gate", "champion", v1)
    result = promote(
        _comparison(client, "gov_gate", v2, v1),
        spec=spec,
        tracking_uri=tracking_uri,
        lock_dir=tmp_path,
        reason="monitoring: drift",
    )
    assert result["decision"] == "awaiting_approval" and not result["promoted"]
    assert result["approval"]["required_because"][0].startswith("drift_retrain")
    assert champ(client, "gov_gate", "champion") == v1
    tags = client.get_model_version("gov_gate", v2).tags
    assert tags["approval.status"] == "awaiting" and tags["gate.decision"] == "awaiting_approval"
    # without the drift reason the same comparison promotes at once (the approval is skipped)
    v3 = registered_more(client, "gov_gate")
    done = promote(
        _comparison(client, "gov_gate", v3, v1),
        spec=spec,
        tracking_uri=tracking_uri,
        lock_dir=tmp_path,
    )
    assert done["decision"] == "promoted"
    assert champ(client, "gov_gate", "champion") == v3


def registered_more(client: Any, name: str) -> str:
    exp_id = client.get_experiment_by_name("governance").experiment_id
    run = client.create_run(exp_id)
    return str(
        client.create_model_version(
            name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        ).version
    )


# ---------------------------------------------------------------------------- retirement
def test_retire_tags_the_version_is_idempotent_and_refuses_champion_and_serving(
    client, tracking_uri, base_spec, tmp_path
) -> None:
    name = "gov_retire"
    spec = spec_for(base_spec, name)
    v1, v2, v3, v4 = registered(client, name, 4)
    client.set_registered_model_alias(name, "champion", v3)
    client.set_registered_model_alias(name, "production", v2)
    client.set_registered_model_alias(name, "challenger", v4)
    kw = {"spec": spec, "tracking_uri": tracking_uri, "lock_dir": tmp_path}
    with pytest.raises(RetirementRefused, match="is the champion: promote another version first"):
        retire(v3, "old", "alice", **kw)
    with pytest.raises(RetirementRefused, match="serves production.*deploy_model"):
        retire(v2, "old", "alice", **kw)
    with pytest.raises(ModelVersionNotFound):
        retire("99", "old", "alice", **kw)
    with pytest.raises(ValueError, match="needs a reason"):
        retire(v1, " ", "alice", **kw)
    first = retire(v1, "trained on leaked labels", "alice", **kw)
    assert not first["already"]
    tags = client.get_model_version(name, v1).tags
    assert is_retired(tags) and tags["lifecycle.retired_by"] == "alice"
    assert tags["lifecycle.retired_reason"] == "trained on leaked labels"
    again = retire(v1, "another reason", "bob", **kw)
    assert again["already"] and again["retired_by"] == "alice"
    # a retired challenger loses the alias; champion and production are untouched
    retire(v4, "superseded", "", **kw)
    assert "challenger" not in (client.get_registered_model(name).aliases or {})
    assert champ(client, name, "champion") == v3
    with pytest.raises(VersionRetired, match="pick another version"):
        refuse_retired(name, v1, client.get_model_version(name, v1).tags)
    # and the gate never promotes a retired version
    with pytest.raises(VersionRetired):
        approve({"version": v1, "champion_version": v3}, ANSWER, **kw)
    rejected = promote(_comparison(client, name, v1, v3), raise_on_reject=False, **kw)
    assert rejected["decision"] == "rejected" and "retired" in rejected["reason"]
    assert champ(client, name, "champion") == v3


def test_deployment_refuses_a_retired_version(
    client, tracking_uri, base_spec, monkeypatch, tmp_path
) -> None:
    from include.deployment import package

    name = "gov_deploy"
    spec = spec_for(base_spec, name)
    v1, v2 = registered(client, name, 2)
    client.set_registered_model_alias(name, "champion", v2)
    retire(v1, "bad data", "alice", spec=spec, tracking_uri=tracking_uri, lock_dir=tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    with pytest.raises(VersionRetired, match=f"{name} v{v1} was retired by alice"):
        package.resolve(v1, spec)
