"""Serving lake files (fault model E5): what is served, and every path that must not be."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from urllib.parse import unquote

import pytest

from include.console import lake

SECRET = "OUTSIDE-SECRET"


def raw_get(app, raw_path: str, token: str | None) -> tuple[int, bytes]:
    """GET ``raw_path`` exactly as sent on the wire (no client-side normalisation: httpx
    would resolve ``../`` before sending); the path is decoded once, as uvicorn does."""
    headers = [(b"host", b"testserver"), (b"accept", b"*/*")]
    if token:
        headers.append((b"cookie", f"_token={token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.fixture
def served(lake_root: Path, tmp_path: Path) -> Path:
    """A lake with a report, a quarantine file, a deployment record, data that is not served,
    and symlinks that point out of their area."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    docs = lake_root / "reports/validation/transactions/2026-01-02/run_1/data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<h1>DOCS</h1>")
    (lake_root / "quarantine/transactions/2026-01-02/run_1").mkdir(parents=True)
    (lake_root / "quarantine/transactions/2026-01-02/run_1/quarantine.json").write_text("{}")
    (lake_root / "deployments").mkdir()
    (lake_root / "deployments/20260102T000000Z-v3-serving.json").write_text(
        json.dumps(
            {
                "model": "fraud",
                "version": "3",
                "outcome": "serving",
                "recorded_at": "2026-01-02T00:00:00+00:00",
                "dag_run_id": "manual__1",
            }
        )
    )
    (lake_root / "validated/transactions").mkdir(parents=True)
    (lake_root / "validated/transactions/data.parquet").write_text(SECRET)
    (lake_root / "reports/escape.txt").symlink_to(outside / "secret.txt")
    (lake_root / "reports/escape_dir").symlink_to(outside, target_is_directory=True)
    # A symlink into another lake area (not served) is outside its area too.
    (lake_root / "quarantine/validated_link").symlink_to(lake_root / "validated")
    return lake_root


PAYLOADS = [
    "/mlops/lake/reports/../validated/transactions/data.parquet",
    "/mlops/lake/reports/../../outside/secret.txt",
    "/mlops/lake/../../outside/secret.txt",
    "/mlops/lake/reports/%2e%2e/validated/transactions/data.parquet",
    "/mlops/lake/reports/%2e%2e%2fvalidated%2ftransactions%2fdata.parquet",
    "/mlops/lake/reports/%2E%2E%2F%2E%2E%2Foutside%2Fsecret.txt",
    "/mlops/lake/reports/%252e%252e/validated/transactions/data.parquet",
    "/mlops/lake/reports/%252e%252e%252fvalidated%252fdata.parquet",
    "/mlops/lake/reports/..%2f..%2foutside/secret.txt",
    "/mlops/lake//etc/passwd",
    "/mlops/lake/%2fetc%2fpasswd",
    "/mlops/lake/reports/%2fetc%2fpasswd",
    "/mlops/lake/reports/..%5c..%5coutside%5csecret.txt",
    "/mlops/lake/reports\\..\\validated\\transactions\\data.parquet",
    "/mlops/lake/reports/x%00.html",
    "/mlops/lake/reports/%c0%ae%c0%ae/validated/transactions/data.parquet",
    "/mlops/lake/reports/./escape.txt",
    "/mlops/lake/reports/escape.txt",
    "/mlops/lake/reports/escape_dir/secret.txt",
    "/mlops/lake/reports/escape_dir/",
    "/mlops/lake/quarantine/validated_link/transactions/data.parquet",
    "/mlops/lake/validated/transactions/data.parquet",
    "/mlops/lake/validated/",
    "/mlops/lake/~/secret.txt",
    "/mlops/lake/reports/~root",
    "/mlops/assets/../../../../etc/passwd",
    "/mlops/assets/%2e%2e/%2e%2e/etc/passwd",
    "/mlops/assets/gx-images/..%2f..%2f__init__.py",
]


@pytest.mark.parametrize("raw_path", PAYLOADS)
def test_E5_unsafe_paths_are_refused_without_reading(
    airflow_app, token: str, served: Path, monkeypatch: pytest.MonkeyPatch, raw_path: str
) -> None:
    # given a signed-in user and a lake with files outside the served areas
    from include import storage

    reads: list[str] = []
    real_read = storage.read_bytes
    monkeypatch.setattr(storage, "read_bytes", lambda uri: reads.append(uri) or real_read(uri))
    # when the path is asked for exactly as sent on the wire
    status, body = raw_get(airflow_app, raw_path, token)
    # then refused, nothing outside read, nothing leaked
    assert status in (400, 404), (raw_path, status, body[:200])
    assert SECRET.encode() not in body
    assert reads == []


def test_E5_escaping_symlinks_are_left_out_of_listings(client, served: Path) -> None:
    r = client.get("/mlops/lake/reports/")
    assert r.status_code == 200
    assert "validation/" in r.text
    assert "escape" not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "..",
        ".",
        "a/../b",
        "reports/..",
        "reports/.",
        "/reports/x",
        "reports//x",
        "reports/%2e%2e",
        "reports\\x",
        "reports/x\x00",
        "~/x",
        "reports/~x",
        "validated/x",
        "monitoring/history.csv",
        "training_sets/x.parquet",
        "",
        "reports/...",
    ],
)
def test_E5_check_relative_refuses(path: str) -> None:
    with pytest.raises(lake.Refused):
        lake.check_relative(path)


def test_resolve_keeps_s3_inside_the_lake() -> None:
    target = lake.resolve("reports/drift/2026-01-01_2026-01-07/index.html", "s3://mlops-lake")
    assert target.uri == "s3://mlops-lake/reports/drift/2026-01-01_2026-01-07/index.html"
    with pytest.raises(lake.Refused):
        lake.resolve("reports/../validated/x", "s3://mlops-lake")


def test_a_report_is_served_with_safe_headers(client, served: Path) -> None:
    r = client.get(
        "/mlops/lake/reports/validation/transactions/2026-01-02/run_1/data_docs/index.html"
    )
    assert r.status_code == 200
    assert r.text == "<h1>DOCS</h1>"
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"


def test_json_and_binary_types(client, served: Path) -> None:
    r = client.get("/mlops/lake/quarantine/transactions/2026-01-02/run_1/quarantine.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    (served / "quarantine/transactions/2026-01-02/run_1/raw.parquet").write_bytes(b"PAR1")
    r = client.get("/mlops/lake/quarantine/transactions/2026-01-02/run_1/raw.parquet")
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")


def test_a_folder_redirects_to_its_listing(client, served: Path) -> None:
    r = client.get("/mlops/lake/quarantine/transactions")
    assert r.status_code == 307 and r.headers["location"] == "transactions/"
    r = client.get("/mlops/lake/quarantine/transactions/")
    assert r.status_code == 200
    assert 'href="2026-01-02/"' in r.text


def test_missing_is_404(client, served: Path) -> None:
    assert client.get("/mlops/lake/reports/nope.html").status_code == 404
    assert client.get("/mlops/lake/reports/nope/").status_code == 404


def test_deployment_records_as_a_page_and_json(client, served: Path) -> None:
    r = client.get("/mlops/deployments")
    assert r.status_code == 200
    assert "serving" in r.text and ">3<" in r.text
    assert "/mlops/lake/deployments/20260102T000000Z-v3-serving.json" in r.text
    assert "/dags/deploy_model/runs/manual__1" in r.text
    r = client.get("/mlops/lake/deployments/20260102T000000Z-v3-serving.json")
    assert r.json()["version"] == "3"
    assert client.get("/mlops/api/deployments").json()[0]["outcome"] == "serving"


def test_values_are_escaped(client, served: Path) -> None:
    (served / "deployments/x.json").write_text(
        json.dumps(
            {
                "version": "<script>alert(1)</script>",
                "outcome": '"><img src=x>',
                "recorded_at": "2027",
            }
        )
    )
    r = client.get("/mlops/deployments")
    assert "<script>alert(1)" not in r.text and "<img src=x>" not in r.text
    assert "&lt;script&gt;" in r.text


def test_lake_is_not_required_to_be_local(monkeypatch: pytest.MonkeyPatch) -> None:
    # The listing of an s3:// folder goes through include.storage (no path tricks apply).
    from include import storage

    monkeypatch.setattr(
        storage,
        "list_objects",
        lambda prefix: [
            storage.ObjectInfo(f"{prefix}/a/index.html", 10),
            storage.ObjectInfo(f"{prefix}/b.json", 5),
        ],
    )
    entries = lake.list_folder(lake.resolve("reports/drift/", "s3://lake"))
    assert [(e.name, e.is_dir) for e in entries] == [("a", True), ("b.json", False)]
    assert os.sep == "/"


def test_raw_requests_do_reach_files(airflow_app, token: str, served: Path) -> None:
    # The helper above must be able to fetch a file, or the refusals prove nothing.
    raw = "/mlops/lake/reports/validation/transactions/2026-01-02/run_1/data_docs/index.html"
    assert raw_get(airflow_app, raw, token) == (200, b"<h1>DOCS</h1>")
    assert raw_get(airflow_app, raw.replace("index", "%69ndex"), token)[0] == 200
    assert raw_get(airflow_app, raw, None)[0] == 401
