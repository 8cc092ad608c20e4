"""Talking to a running scoring service: the stable address or a candidate.

Settings: ``MLOPS_SERVING_URL`` (the stable address clients use; default
``http://127.0.0.1:$MLOPS_SERVING_PORT``, port 3000; with several use cases, each its own:
``include.config.Settings.serving_url``) and the bearer token of
``serving.auth``. Metrics are read from the service's own ``/metrics`` (Prometheus text).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PREDICT = "/predict"


def stable_url() -> str:
    """The address clients use; it never changes across deployments."""
    from include.config import get_settings

    return get_settings().serving_url


class ServiceUnreachable(RuntimeError):
    """The scoring service does not answer at its address."""


def client(base_url: str, token: str | None = None, timeout: float = 10.0) -> Any:
    """A keep-alive HTTP client for ``base_url`` (httpx, which BentoML ships with)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout)


def status(base_url: str, timeout: float = 5.0) -> dict[str, Any]:
    """The service's ``/status`` (open): the active model, pointer, last load error."""
    import httpx

    try:
        resp = httpx.get(f"{base_url}/status", timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServiceUnreachable(f"no scoring service answers at {base_url}: {exc}") from None
    resp.raise_for_status()
    return resp.json()


def active_version(st: Mapping[str, Any]) -> str | None:
    model = st.get("model") or st.get("active") or {}
    version = model.get("version") if isinstance(model, Mapping) else None
    return None if version is None else str(version)


def wait_ready(base_url: str, timeout_s: float, *, proc: Any = None) -> float:
    """Wait for ``/readyz`` 200; returns the seconds waited. ``proc``: a Popen whose death
    ends the wait at once (with its exit code)."""
    import httpx

    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise ServiceUnreachable(f"the service exited with code {proc.returncode}: {last}")
        try:
            resp = httpx.get(f"{base_url}/readyz", timeout=2.0)
            if resp.status_code == 200:
                return time.monotonic() - start
            last = f"/readyz {resp.status_code}: {resp.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise ServiceUnreachable(f"{base_url} not ready after {timeout_s:.0f} s: {last}")


# ------------------------------------------------------------------------------ metrics
@dataclass
class Traffic:
    """``/predict`` traffic between two scrapes: requests by status and a latency
    histogram (upper bound in seconds -> cumulative count)."""

    by_status: dict[str, float] = field(default_factory=dict)
    buckets: dict[float, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.by_status.values())

    @property
    def server_errors(self) -> float:
        return sum(n for code, n in self.by_status.items() if code.startswith("5"))

    @property
    def error_rate(self) -> float:
        return self.server_errors / self.total if self.total else 0.0

    def quantile_ms(self, q: float) -> float | None:
        """The histogram's upper bound holding quantile ``q`` (ms); None without traffic."""
        if not self.buckets:
            return None
        bounds = sorted(self.buckets)
        count = self.buckets[bounds[-1]]
        if count <= 0:
            return None
        for bound in bounds:
            if self.buckets[bound] >= q * count:
                return bound * 1000.0
        return math.inf

    def minus(self, before: Traffic) -> Traffic:
        return Traffic(
            {k: v - before.by_status.get(k, 0.0) for k, v in self.by_status.items()},
            {k: v - before.buckets.get(k, 0.0) for k, v in self.buckets.items()},
        )


def parse_traffic(text: str, endpoint: str = PREDICT) -> Traffic:
    """BentoML's request counter and duration histogram for ``endpoint``."""
    from prometheus_client.parser import text_string_to_metric_families

    out = Traffic()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("endpoint") != endpoint:
                continue
            if sample.name.endswith("request_total") and "http_response_code" in labels:
                code = labels["http_response_code"]
                out.by_status[code] = out.by_status.get(code, 0.0) + sample.value
            elif sample.name.endswith("request_duration_seconds_bucket") and "le" in labels:
                le = float(labels["le"])
                out.buckets[le] = out.buckets.get(le, 0.0) + sample.value
    return out


def scrape(base_url: str) -> Traffic:
    import httpx

    resp = httpx.get(f"{base_url}/metrics", timeout=5.0)
    resp.raise_for_status()
    return parse_traffic(resp.text)


def percentile_ms(samples_ns: Iterable[int], q: float) -> float:
    values = sorted(samples_ns)
    if not values:
        return math.nan
    idx = min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))
    return values[idx] / 1e6


def body(resp: Any) -> Any:
    try:
        return resp.json()
    except (ValueError, json.JSONDecodeError):
        return resp.text[:300]
