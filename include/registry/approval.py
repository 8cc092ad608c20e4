"""Human approval of a promotion the gate passed (spec ``model.approval``).

Some promotions should not happen on a comparison alone: a retrain monitoring asked for (the
holdout itself is drifted), or a challenger that wins overall but moved a fairness slice the
wrong way (still inside ``max_slice_gap``). For those the gate registers the version as
``challenger``, tags it ``approval.status=awaiting`` and leaves ``champion`` where it is; the
``train_model`` DAG then asks a person through Airflow's human-in-the-loop ApprovalOperator.

* :func:`approval_reasons` — the pure policy: which ``required_when`` conditions hold;
* :func:`parse_answer` — the ApprovalOperator's XCom (or a timeout default) as an
  :class:`ApprovalAnswer`;
* :func:`approve` — an approved version becomes champion (under the promotion lock, the
  champion re-read: an approval of a comparison against a champion that has since changed is
  refused, :class:`ApprovalOutdated`), tagged with who and when;
* :func:`record_decision` — the decision as version tags (``approval.*``) and as a lake record
  (``<lake>/registry/approvals/<model>/v<version>.json``), whatever it was;
* :func:`approval_markdown` — the request's body: key figures and the comparison's link.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.spec import ApprovalSpec, UseCaseSpec, load_spec

STATUS_TAG = "approval.status"  # awaiting | approved | rejected
DECISION_TAG = "approval.decision"  # approved | rejected
BY_TAG = "approval.by"
AT_TAG = "approval.at"
COMMENT_TAG = "approval.comment"
TIMED_OUT_TAG = "approval.timed_out"
REQUIRED_BECAUSE_TAG = "approval.required_because"
APPROVE, REJECT = "Approve", "Reject"  # the ApprovalOperator's options


class ApprovalOutdated(RuntimeError):
    """The champion changed between the comparison a person approved and the promotion: the
    approval was for another comparison. Retrain (or trigger train_model) to compare again."""


# ---------------------------------------------------------------------------- the policy
def slice_gaps_grown(
    challenger: Mapping[str, Any], champion: Mapping[str, Any] | None, tolerance: float
) -> list[str]:
    """Slices (``attr=value``) judged for both models whose gap to the model's own overall
    metric is larger for the challenger than for the champion by more than ``tolerance``."""
    if not champion or champion.get("error"):
        return []
    grown = []
    for attr, rows in (challenger.get("slices") or {}).items():
        theirs = {str(r["slice"]): r for r in (champion.get("slices") or {}).get(attr, [])}
        for row in rows:
            old = theirs.get(str(row["slice"]))
            if not (row.get("judged") and old and old.get("judged")):
                continue
            if row.get("gap") is None or old.get("gap") is None:
                continue
            if row["gap"] - old["gap"] > tolerance:
                grown.append(
                    f"{attr}={row['slice']} ({_standing(old['gap'])} under the champion, "
                    f"{_standing(row['gap'])} now)"
                )
    return grown


def _standing(gap: float) -> str:
    """A slice's gap (its shortfall to the overall metric) in words."""
    return f"{abs(gap):.4f} {'below' if gap > 0 else 'above'} overall"


def approval_reasons(
    policy: ApprovalSpec, *, reason: str, comparison: Mapping[str, Any]
) -> list[str]:
    """Why the promotion in ``comparison`` needs a person (empty: it does not).

    ``reason``: the training run's ``reason`` Param (monitoring's start with "monitoring")."""
    out = []
    if "always" in policy.required_when:
        out.append("always: every promotion is approved by a person (model.approval)")
    if "drift_retrain" in policy.required_when and str(reason or "").startswith("monitoring"):
        out.append(f"drift_retrain: this retrain was triggered by monitoring ({reason})")
    if "slice_gap_grew" in policy.required_when:
        grown = slice_gaps_grown(
            comparison.get("challenger") or {},
            comparison.get("champion"),
            policy.slice_gap_tolerance,
        )
        if grown:
            out.append(
                "slice_gap_grew: a slice fell further behind the overall metric than under "
                "the champion, beyond model.approval.slice_gap_tolerance: " + ", ".join(grown)
            )
    return out


# --------------------------------------------------------------------------- the answer
@dataclass(frozen=True)
class ApprovalAnswer:
    """A person's (or the timeout's) answer to an approval request."""

    decision: str  # "approved" | "rejected"
    by: str  # the user's name, or "timeout (model.approval.on_timeout)"
    at: str  # ISO time
    comment: str
    timed_out: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_answer(payload: Mapping[str, Any] | None) -> ApprovalAnswer | None:
    """The ApprovalOperator's return value (chosen_options, params_input, responded_at,
    responded_by_user; the user is None when the timeout applied the defaults), or None when
    there is none (the approval task did not run)."""
    if not payload or not payload.get("chosen_options"):
        return None
    chosen = list(payload["chosen_options"])
    user = payload.get("responded_by_user") or None
    at = payload.get("responded_at") or datetime.now(UTC)
    comment = str((payload.get("params_input") or {}).get("comment") or "")
    return ApprovalAnswer(
        decision="approved" if chosen[0] == APPROVE else "rejected",
        by=str((user or {}).get("name") or (user or {}).get("id") or "")
        or "timeout (model.approval.on_timeout)",
        at=at.isoformat() if hasattr(at, "isoformat") else str(at),
        comment=comment,
        timed_out=user is None,
    )


# ---------------------------------------------------------------------------- the acts
def _client(tracking_uri: str | None) -> Any:
    from include.modeling import tracking

    return tracking.configure(tracking_uri).MlflowClient()


def approve(
    result: Mapping[str, Any],
    answer: ApprovalAnswer,
    *,
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
    lock_dir: Path | None = None,
) -> dict[str, Any]:
    """Make the approved version champion; returns the gate result as a promotion.

    Idempotent (a retried task finds it is champion already). Refused when the version was
    retired, or when the champion moved since the comparison (:class:`ApprovalOutdated`)."""
    from include.registry.errors import VersionRetired
    from include.registry.lock import promotion_lock
    from include.registry.read import champion_version
    from include.registry.retire import is_retired

    spec = spec or load_spec()
    policy = spec.model
    client = _client(tracking_uri)
    name, version = policy.registered_name, str(result["version"])
    with promotion_lock(name, lock_dir):
        current = champion_version(client, policy)
        if current != version:
            if is_retired(client.get_model_version(name, version).tags):
                raise VersionRetired(f"{name} v{version} was retired since: not promoted")
            if str(current or "") != str(result.get("champion_version") or ""):
                raise ApprovalOutdated(
                    f"{name} v{version} was approved against champion "
                    f"v{result.get('champion_version') or '-'}, but v{current} is champion now: "
                    "the comparison is outdated; trigger train_model to compare again"
                )
            client.set_registered_model_alias(name, policy.champion_alias, version)
            if champion_version(client, policy) != version:
                raise RuntimeError(
                    f"{name}: set {policy.champion_alias} to v{version}, reads other"
                )
        for key, value in {
            "gate.decision": "promoted",
            STATUS_TAG: "approved",
            DECISION_TAG: "approved",
            BY_TAG: answer.by,
            AT_TAG: answer.at,
        }.items():
            client.set_model_version_tag(name, version, key, value)
    return {
        **{k: v for k, v in result.items() if k != "comparison"},
        "alias": policy.champion_alias,
        "promoted": True,
        "decision": "promoted",
        "champion_version": version,
        "approval": answer.as_dict(),
    }


def record_decision(
    result: Mapping[str, Any],
    answer: ApprovalAnswer,
    *,
    lake_uri: str,
    run_id: str = "",
    spec: UseCaseSpec | None = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Tag the version with the decision (``approval.*``) and write its lake record; returns
    the record. A rejection leaves every alias alone."""
    from include import layout, storage
    from include.modeling import tracking

    spec = spec or load_spec()
    client = _client(tracking_uri)
    name, version = spec.model.registered_name, str(result["version"])
    tags = {
        STATUS_TAG: answer.decision,
        DECISION_TAG: answer.decision,
        BY_TAG: answer.by,
        AT_TAG: answer.at,
        COMMENT_TAG: answer.comment[: tracking.MAX_TAG_VALUE],
        TIMED_OUT_TAG: str(answer.timed_out).lower(),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    record = {
        "model": name,
        "version": version,
        **answer.as_dict(),
        "champion_version": result.get("champion_version"),
        "required_because": list((result.get("approval") or {}).get("required_because") or []),
        "report_uri": result.get("report_uri"),
        "lake_report_uri": result.get("lake_report_uri"),
        "dag_run_id": run_id,
        "recorded_at": datetime.now(UTC).isoformat(),
    }
    uri = layout.approval_record_uri(lake_uri, name, version)
    storage.write_bytes(uri, json.dumps(record, indent=2, default=str).encode())
    return {**record, "uri": uri}


def champion_label(result: Mapping[str, Any]) -> str:
    """``champion v3``, or ``no champion yet`` for a first model (approval texts)."""
    current = result.get("champion_version")
    return f"champion v{current}" if current else "no champion yet"


def approval_markdown(result: Mapping[str, Any], report_link: str | None) -> str:
    """The approval request's body (Markdown): why a person is asked, the key figures side
    by side, every check, and where the full comparison is."""
    comparison = result.get("comparison") or {}
    mine = (comparison.get("challenger") or {}).get("overall") or {}
    theirs = (comparison.get("champion") or {}).get("overall") or {}
    metric = comparison.get("primary_metric", "")
    because = (result.get("approval") or {}).get("required_because") or []
    lines = [
        f"**{result.get('model')} v{result.get('version')}** passed the gate against "
        f"{champion_label(result)}; a person decides whether it becomes champion (and is "
        "deployed).",
        "",
        "Approval is required because:",
        *[f"- {b}" for b in because],
        "",
        "| metric | challenger | champion |",
        "|---|---|---|",
        *[
            f"| {'**' + k + '**' if k == metric else k} | {_fmt(mine.get(k))} | "
            f"{_fmt(theirs.get(k))} |"
            for k in sorted(set(mine) | set(theirs))
        ],
        "",
        "Checks:",
        *[
            f"- {'pass' if c.get('passed') else 'FAIL'} `{c.get('name')}`: {c.get('detail')}"
            for c in comparison.get("checks") or []
        ],
        "",
        f"Comparison report: {f'[open]({report_link})' if report_link else '-'} "
        f"(MLflow artifact `{result.get('report_uri')}`)",
        "",
        "**Approve**: champion moves, deploy_model deploys it. **Reject**: the champion stays; "
        "the decision is recorded on the version. Add a comment to say why.",
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)
