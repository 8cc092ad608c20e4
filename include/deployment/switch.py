"""The switch: the stable service loads the new version beside the old one and swaps.

The deployment pointer (``serving.pointer``) is the desired state; the serving process
follows it (it polls the pointer, loads and self-checks the version, then swaps one
reference, so a request is answered wholly by one version and none is refused). Here:
write the pointer, wait until the service's ``/status`` reports the version (or a load
error), then **watch** the service's own metrics while canary requests flow; beyond the
spec's error rate or p99 the previous pointer is written back (automatic rollback).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from include.deployment.http import (
    PREDICT,
    ServiceUnreachable,
    active_version,
    client,
    scrape,
    status,
)


class SwitchFailed(RuntimeError):
    """The service did not take the version; it still serves the previous one."""


class WatchFailed(RuntimeError):
    """The version broke the limits after the switch; it was rolled back."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


def serving_now(base_url: str) -> dict[str, Any]:
    """What the stable address serves now (raises :class:`ServiceUnreachable`)."""
    return status(base_url)


def wait_for_version(base_url: str, version: str, model_tag: str, timeout_s: float) -> dict:
    """Until ``/status`` shows ``version`` active; a load error for ``model_tag`` or the
    timeout raise :class:`SwitchFailed`."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = status(base_url)
        except ServiceUnreachable:
            time.sleep(0.5)
            continue
        if active_version(last) == str(version):
            return last
        error = last.get("last_error") or {}
        if isinstance(error, dict) and error.get("model_tag") == model_tag:
            raise SwitchFailed(f"the service could not load {model_tag}: {error.get('error')}")
        if isinstance(error, str) and model_tag in error:
            raise SwitchFailed(f"the service could not load {model_tag}: {error}")
        time.sleep(0.25)
    raise SwitchFailed(
        f"the service at {base_url} did not switch to v{version} within {timeout_s:.0f} s "
        f"(it serves v{active_version(last)})"
    )


def switch(
    base_url: str,
    *,
    model_tag: str,
    version: str,
    bento_tag: str,
    run_id: str,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Point the stable service at ``model_tag`` and wait for it; returns the new pointer
    (with ``previous``). On failure the previous pointer is restored."""
    from serving import pointer

    before = serving_now(base_url)  # refuse early when nothing serves: nothing to switch
    previous = pointer.read()
    new = pointer.point_to(model_tag, version, bento_tag=bento_tag, dag_run_id=run_id)
    try:
        wait_for_version(base_url, version, model_tag, timeout_s)
    except SwitchFailed:
        restore(previous.as_dict() if previous else None)
        raise
    return {**new.as_dict(), "served_before": active_version(before)}


def restore(previous: dict[str, Any] | None) -> None:
    """Write back the pointer a switch replaced. With none (a first deployment) the pointer
    is removed: the service keeps what it has loaded and a restart serves nothing."""
    from serving import pointer

    if previous:
        fields = {k: previous.get(k) for k in ("model_tag", "version", "bento_tag", "dag_run_id")}
        pointer.write(
            pointer.Pointer(**fields, deployed_at=datetime.now(UTC).isoformat(), previous=None)
        )
    else:
        pointer.pointer_path().unlink(missing_ok=True)


def watch(
    base_url: str,
    token: str,
    canary: dict[str, Any],
    *,
    version: str,
    seconds: float,
    max_error_rate: float,
    p99_ms: float,
) -> dict[str, Any]:
    """Canary requests for ``seconds``, judged on the service's own metrics (its request
    counter by status and its latency histogram for ``/predict``). Returns the report;
    raises :class:`WatchFailed` (after nothing: the caller rolls back) on a breach."""
    before = scrape(base_url)
    sent = failed = 0
    other_version = 0
    deadline = time.monotonic() + seconds
    with client(base_url, token) as http:
        http.headers["X-MLOps-Synthetic"] = "deploy-canary"  # answered, not captured
        while True:
            try:
                resp = http.post(PREDICT, json={"transactions": [canary]})
                failed += resp.status_code >= 500
                if resp.status_code == 200:
                    served = str((resp.json().get("model") or {}).get("version"))
                    other_version += served != str(version)
            except Exception:  # noqa: BLE001 (a refused connection is a failed request)
                failed += 1
            sent += 1
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    traffic = scrape(base_url).minus(before)
    p99 = traffic.quantile_ms(0.99)
    report = {
        "version": str(version),
        "seconds": seconds,
        "canary_sent": sent,
        "canary_failed": failed,
        "answered_by_other_version": other_version,
        "requests": traffic.total,
        "by_status": traffic.by_status,
        "error_rate": round(traffic.error_rate, 5),
        "max_error_rate": max_error_rate,
        "p99_ms_upper_bound": p99,
        "budget_p99_ms": p99_ms,
    }
    problems = []
    if traffic.error_rate > max_error_rate or (traffic.total == 0 and failed):
        problems.append(f"error rate {traffic.error_rate:.2%} > {max_error_rate:.2%}")
    if p99 is not None and p99 > p99_ms:
        problems.append(f"p99 ≤ {p99:.1f} ms bucket over the {p99_ms} ms budget")
    if other_version:
        problems.append(f"{other_version} canary answers came from another version")
    report["passed"] = not problems
    if problems:
        raise WatchFailed(f"v{version} after the switch: " + "; ".join(problems), report)
    return report
