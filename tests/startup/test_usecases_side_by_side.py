"""Two use cases in one real ``make run``: fraud (simulated) and flights (recorded data).

Given ``MLOPS_USECASES=<fraud>,<flights>`` on an empty data directory and a few small days,
when ``make run`` starts, then each use case ingests its own feeds, trains, and its champion
is served by its own scoring service, which scores a row of that use case's own lake; no name
collides: each use case's data, feature store and serving pointer are in its own folders
(nothing at the platform's plain roots), each has its own registered model and champion, and
every mail names its use case. When the platform restarts with fraud alone, then fraud goes
on where it was (same DAGs, same champion at the same address, no day landed again) and
flights' data stays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.trained_platform import small_spec
from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.trial import EmbeddedRun
from tests.conftest import ROOT
from tests.platform_logs import keep_if_failed

pytestmark = pytest.mark.startup

NAMES = ("fraud", "flights")
DAYS = 5  # flights' labels mature in 2 days, the small fraud spec's in 2: 3 days to learn


@pytest.fixture
def platform(tmp_path: Path):
    specs = tmp_path / "specs"
    specs.mkdir()
    # The bundled specs with a small model budget: a few days of data suffice.
    # (a first model on three labelled days is judged against chance, not against a bar).
    flights = small_spec(
        specs / "flights.yaml", ROOT / "usecase" / "flights.yaml", model={"minimums": {}}
    )
    listed = f"{small_spec(specs / 'fraud.yaml')},{flights}"
    run = EmbeddedRun(tmp_path / "data", days=DAYS, rows=2000, extra_env={"MLOPS_USECASES": listed})
    try:
        yield run
    finally:
        try:
            run.ctrl_c()
        finally:
            run.kill()
            keep_if_failed("startup", tmp_path)


def _served(status: dict[str, Any]) -> bool:
    cases = (status.get("progress") or {}).get("usecases") or {}
    return set(cases) == set(NAMES) and all(cases[n].get("deployed") for n in NAMES)


def _request_row(data: Path, name: str, spec_path: Path) -> dict[str, Any]:
    """A real event of ``name``'s own validated lake, as the scoring contract takes it."""
    import pandas as pd

    from include.spec import load_spec
    from serving import contract

    spec = load_spec(spec_path)
    feed = spec.names.events_feed
    parts = sorted((data / "lake" / name / "validated" / feed).glob("date=*/data.parquet"))
    assert parts, f"no validated {feed} partition under lake/{name}"
    event = pd.read_parquet(parts[-1]).iloc[0].to_dict()
    row = {}
    for field in contract.build(spec).fields:
        value = event[field]
        if isinstance(value, pd.Timestamp):
            value = value.tz_convert("UTC").isoformat().replace("+00:00", "Z")
        row[field] = value.item() if hasattr(value, "item") else value
    return row


def test_two_use_cases_serve_side_by_side_without_collision(
    platform: EmbeddedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    run, data = platform, platform.data_root
    run.start(tmp_path / "make-run.log")
    status = run.wait_for("both use cases' champions served", _served, timeout_s=1800)
    text = run.text()
    for name in NAMES:
        assert f"[{name}] days ingested" in text and f"[{name}] champion registered" in text

    # Each use case's service serves its own model and scores its own events.
    token = (data / "serving" / "token").read_text().strip()
    specs = {n: tmp_path / "specs" / f"{n}.yaml" for n in NAMES}
    models = {}
    for name in NAMES:
        url = status["ports"][f"serving.{name}"]
        served = httpx.get(f"{url}/status", timeout=10).json()
        assert served["usecase"] == name, served
        models[name] = served["model"]["name"]
        body = {"transactions": [_request_row(data, name, specs[name])]}
        answer = httpx.post(
            f"{url}/predict",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        (prediction,) = answer.json()["predictions"]
        assert prediction["scored"] is True, prediction
        assert prediction["model_name"] == models[name], prediction
    assert models["fraud"] != models["flights"]

    # No collision: every store is divided by use case, nothing at the plain roots.
    for name in NAMES:
        for folder in ("landing", "lake/" + name + "/validated", "features", "feast", "serving"):
            assert (data / folder / name if "/" not in folder else data / folder).is_dir(), (
                name,
                folder,
            )
        pointer = json.loads((data / "serving" / name / "deployment.json").read_text())
        assert pointer["model_tag"].startswith(f"{models[name]}:"), pointer
        assert pointer["bento_tag"].startswith(f"{name}_service:"), pointer
    for plain in ("lake/validated", "features/date=", "serving/deployment.json"):
        assert not list(data.glob(plain + "*")), f"{plain} written outside a use case's folder"

    # The registry and Feast's: one registered model and one Feast project each.
    _use_the_platforms_stores(run, monkeypatch, specs)
    from mlflow import MlflowClient

    from include.config import get_settings
    from include.features.schema import feature_spec
    from include.features.store import feature_store
    from include.spec import load_spec

    client = MlflowClient()
    for name in NAMES:
        champion = client.get_model_version_by_alias(models[name], "champion")
        assert champion.tags.get("gate.decision") == "promoted", champion.tags
        spec = load_spec(specs[name])
        store = feature_store(get_settings(name))
        assert store.project == spec.features.project
        views = {v.name for v in store.list_feature_views()}
        assert views == {v.name for v in feature_spec(spec).views}, (name, views)

    # Mails: each names exactly one use case.
    for mail in (data / "mail").glob("*.eml"):
        subject = next(
            line
            for line in mail.read_text(errors="replace").splitlines()
            if line.startswith("Subject:")
        )
        assert sum(f"[{n}]" in subject or f" {n}]" in subject for n in NAMES) == 1, subject

    # Fraud alone again: flights is removed, fraud goes on where it was.
    fraud_before = status["progress"]["usecases"]["fraud"]["deployed"]
    fraud_url = status["ports"]["serving.fraud"]
    assert run.ctrl_c() in (0, -2, 130), run.text()[-3000:]
    run.extra_env["MLOPS_USECASES"] = str(specs["fraud"])
    run.start(tmp_path / "fraud-alone.log")
    status = run.wait_for(
        "fraud resumed, serving its champion",
        lambda s: _served_alone(s, fraud_url, fraud_before),
        timeout_s=600,
    )
    alone = (tmp_path / "fraud-alone.log").read_text()
    assert "resuming on" in alone and "landing" not in alone.split("is running")[0]
    # Its DAGs are gone from the platform (stale once the DAG processor parsed the folder
    # without them), fraud's are there.
    from tests.airflow_rest import wait

    api = _api(run)

    def live_dags() -> set[str] | None:
        dags = api.get("/api/v2/dags", limit=100)["dags"]
        live = {d["dag_id"] for d in dags if not d.get("is_stale")}
        return None if any(d.startswith("flights.") for d in live) else live

    live = wait("flights' DAGs gone", live_dags, 300, 5)
    assert "fraud.train_model" in live, live
    assert list((data / "lake" / "flights" / "validated").glob("*/date=*/data.parquet"))


def _served_alone(status: dict[str, Any], url: str, version: str) -> bool:
    progress = status.get("progress") or {}
    return (
        status.get("phase") == "running"
        and progress.get("deployed") == version
        and status.get("ports", {}).get("serving.fraud") == url
    )


def _api(run: EmbeddedRun) -> AirflowApi:
    return AirflowApi(
        f"http://127.0.0.1:{run.ports['MLOPS_UI_PORT']}",
        "mlops",
        run.data_root / "airflow" / "simple_auth_manager_passwords.json.generated",
    )


def _use_the_platforms_stores(run: EmbeddedRun, monkeypatch, specs: dict[str, Path]) -> None:
    """This process reads the stores ``make run`` uses: its embedded PostgreSQL's ``mlflow``
    and ``feast`` databases (password in its libpq password file), its data root."""
    pg = f"postgresql+psycopg2://mlops@127.0.0.1:{run.ports['MLOPS_PG_PORT']}"
    monkeypatch.setenv("PGPASSFILE", str(run.data_root / "airflow" / "pgpass"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{pg}/mlflow")
    monkeypatch.setenv("MLOPS_FEAST_REGISTRY", f"{pg}/feast")
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(run.data_root))
    monkeypatch.setenv("MLOPS_USECASES", ",".join(str(specs[n]) for n in NAMES))
