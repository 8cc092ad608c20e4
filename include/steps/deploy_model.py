"""The steps of ``dags/deploy_model.py`` (Airflow-free; see :mod:`include.deployment`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from include.config import get_settings
from include.deployment import candidate, checks, history, package, switch
from include.deployment.http import ServiceUnreachable, active_version, stable_url, status
from include.spec import load_spec


class AlreadyServing(RuntimeError):
    """The version asked for already serves the stable address: nothing to do."""


def requested_version(param: str | None, event_extras: list[dict[str, Any]]) -> str | None:
    """The Param wins (a pin or a rollback); else the newest promoted version among the
    triggering ``champion_model`` events; else None (the champion, read once)."""
    if param and str(param).strip():
        return str(param).strip()
    versions = [int(e["version"]) for e in event_extras if str(e.get("version", "")).isdigit()]
    return str(max(versions)) if versions else None


def resolve(version: str | None, *, force: bool = False) -> dict[str, Any]:
    target = package.resolve(version)
    try:
        now = active_version(status(stable_url()))
    except ServiceUnreachable:
        now = None
    if now == target.version and not force:
        raise AlreadyServing(f"v{target.version} already serves {stable_url()}")
    return {**target.as_dict(), "serving_before": now}


def build(target: dict[str, Any]) -> dict[str, Any]:
    return package.package(package.Target(**{k: target[k] for k in _TARGET_FIELDS}))


_TARGET_FIELDS = ("name", "version", "model_uri", "threshold", "features", "tags")


def check_candidate(target: dict[str, Any], packaged: dict[str, Any]) -> dict[str, Any]:
    """Serve the built Bento privately and run every pre-traffic check against it."""
    settings = get_settings()
    log_dir = Path(settings.data_root) / "logs" / "deploy"
    with candidate.serve(packaged["bento_tag"], log_dir) as cand:
        report = checks.run_checks(
            cand.url,
            cand.token,
            version=target["version"],
            model_uri=target["model_uri"],
            threshold=float(target["threshold"]),
        )
        report["candidate_startup_s"] = round(cand.startup_s, 2)
    return _summary(report)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The check report without the per-case detail (kept small for XCom)."""
    return {
        "passed": report["passed"],
        "golden": {
            k: report["golden"].get(k) for k in ("requests", "scored", "max_abs_score_diff")
        },
        "bad_input_cases": len(report["bad_input"]["cases"]),
        "latency": report["latency"],
        "candidate_startup_s": report.get("candidate_startup_s"),
    }


def do_switch(target: dict[str, Any], packaged: dict[str, Any], run_id: str) -> dict[str, Any]:
    return switch.switch(
        stable_url(),
        model_tag=packaged["model_tag"],
        version=target["version"],
        bento_tag=packaged["bento_tag"],
        run_id=run_id,
    )


def watch_or_rollback(target: dict[str, Any], new_pointer: dict[str, Any]) -> dict[str, Any]:
    """Watch the switched version; on a breach write the previous pointer back, wait for
    the service to serve it again, and fail with the watch report."""
    from serving.auth import load_token

    spec = load_spec()
    canary = checks.golden_requests(spec, rows=1)[0]
    try:
        return switch.watch(
            stable_url(),
            load_token(),
            canary,
            version=target["version"],
            seconds=spec.serving.watch_seconds,
            max_error_rate=spec.serving.max_error_rate,
            p99_ms=spec.serving.p99_ms,
        )
    except switch.WatchFailed as exc:
        previous = new_pointer.get("previous")
        switch.restore(previous)
        if previous:
            switch.wait_for_version(
                stable_url(), previous["version"], previous["model_tag"], timeout_s=120
            )
        history.record_deployment(
            version=target["version"],
            bento_tag=new_pointer.get("bento_tag", ""),
            run_id=new_pointer.get("dag_run_id", ""),
            outcome="rolled_back",
            previous_version=(previous or {}).get("version"),
            detail=exc.report,
        )
        back = f"rolled back to v{previous['version']}" if previous else "no previous version"
        raise switch.WatchFailed(f"{exc} — {back}", exc.report) from None


def record(
    target: dict[str, Any],
    packaged: dict[str, Any],
    new_pointer: dict[str, Any],
    checked: dict[str, Any],
    watched: dict[str, Any],
    run_id: str,
) -> dict[str, Any]:
    rec = history.record_deployment(
        version=target["version"],
        bento_tag=packaged["bento_tag"],
        run_id=run_id,
        outcome="serving",
        previous_version=new_pointer.get("served_before"),
        detail={"checks": checked, "watch": watched, "model_tag": packaged["model_tag"]},
    )
    return {
        "model": target["name"],
        "version": target["version"],
        "bento_tag": packaged["bento_tag"],
        "previous_version": new_pointer.get("served_before"),
        "outcome": "serving",
        "url": stable_url(),
        "record_uri": rec["uri"],
    }
