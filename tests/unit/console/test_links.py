"""Console addresses (include/console/links.py) and the mails that use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.console import links


@pytest.fixture(autouse=True)
def _base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CONSOLE_URL", "https://airflow.example/")


def test_console_base_falls_back_to_airflow_then_localhost(monkeypatch) -> None:
    assert links.console_base() == "https://airflow.example"
    monkeypatch.delenv("MLOPS_CONSOLE_URL")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://ui:9090/")
    assert links.console_base() == "http://ui:9090"
    monkeypatch.delenv("AIRFLOW__API__BASE_URL")
    assert links.console_base() == "http://localhost:8080"


def test_report_url_for_served_areas_only() -> None:
    lake = "/data/lake"
    assert (
        links.report_url("/data/lake/reports/drift/2026-01-01_2026-01-07/index.html", lake)
        == "https://airflow.example/mlops/lake/reports/drift/2026-01-01_2026-01-07/index.html"
    )
    assert links.report_url("/data/lake/quarantine/t/2026-01-01/r", lake).endswith(
        "/mlops/lake/quarantine/t/2026-01-01/r"
    )
    assert links.report_url("s3://lake/deployments/a.json", "s3://lake/") == (
        "https://airflow.example/mlops/lake/deployments/a.json"
    )
    for outside in (
        "/data/lake/validated/t/date=2026-01-01/data.parquet",
        "/data/lake",
        "/data/lakehouse/reports/x.html",
        "/data/lake/reports/../validated/x",
        "/etc/passwd",
        "s3://lake/reports/x.html",
        "runs:/abc/gate/report.html",
    ):
        assert links.report_url(outside, lake) is None, outside
    assert links.report_url("s3://other/reports/x.html", "s3://lake") is None


def test_report_url_reads_the_lake_setting(data_root: Path) -> None:
    uri = str(data_root / "lake" / "reports" / "x.html")
    assert links.report_url(uri) == "https://airflow.example/mlops/lake/reports/x.html"


def test_report_url_quotes_odd_characters() -> None:
    url = links.report_url("/l/reports/a b#c.html", "/l")
    assert url == "https://airflow.example/mlops/lake/reports/a%20b%23c.html"


def test_airflow_ui_routes() -> None:
    assert links.run_url("train_model", "manual__2026-01-01T00:00:00+00:00") == (
        "https://airflow.example/dags/train_model/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00"
    )
    assert links.task_url("d", "r", "t") == "https://airflow.example/dags/d/runs/r/tasks/t"
    assert links.task_url("d", "r", "t", 3) == (
        "https://airflow.example/dags/d/runs/r/tasks/t/mapped/3"
    )


def test_console_pages() -> None:
    assert links.inventory_url() == "https://airflow.example/mlops/inventory"
    assert links.lineage_url() == "https://airflow.example/mlops/lineage"
    assert links.lineage_url(prediction_id="p 1") == (
        "https://airflow.example/mlops/lineage?prediction_id=p+1"
    )
    assert links.lineage_url(transaction_id="t&1").endswith("lineage?transaction_id=t%261")
    assert links.EVIDENCE_XCOM_KEY == "evidence_url"


def test_the_ui_routes_exist_in_the_installed_airflow_ui() -> None:
    # The UI's router (bundled JS) must still have the routes task_url/run_url build.
    import airflow

    bundle = Path(airflow.__file__).parent / "ui" / "dist" / "assets"
    text = "".join(p.read_text(errors="ignore") for p in bundle.glob("index-*.js"))
    for route in (
        "dags/:dagId/runs/:runId",
        "dags/:dagId/runs/:runId/tasks/:taskId",
        "dags/:dagId/runs/:runId/tasks/:taskId/mapped/:mapIndex",
    ):
        assert route in text, route


# ------------------------------------------------------------------------------ mails
def test_quarantine_mail_links_the_console(data_root: Path) -> None:
    from include.notify.templates import TaskContext
    from include.quality.alerts import batch_quarantined

    q = str(data_root / "lake/quarantine/transactions/2026-11-20/r")
    ctx = TaskContext("ingest_transactions", "quarantine_batch", "r", "2026-11-20", 1, "L", "")
    mail = batch_quarantined(
        ctx,
        {
            "feed": "transactions",
            "day": "2026-11-20",
            "evidence_uri": q,
            "data_docs_uri": f"{q}/data_docs/index.html",
            "raw_files": [f"{q}/raw/t.csv"],
            "failed_checks": [],
        },
    )
    base = "https://airflow.example/mlops/lake/quarantine/transactions/2026-11-20/r"
    assert f"Data Docs (admins): {base}/data_docs/index.html" in mail.text
    assert f"Raw files (admins): {base}/raw/t.csv" in mail.text
    assert f"Stored at: {q}" in mail.text


def test_drift_mail_links_the_console(data_root: Path) -> None:
    from include.monitoring.alerts import _facts

    uri = str(data_root / "lake/reports/drift/a_b/index.html")
    facts = dict(_facts({"report_uri": uri}))
    assert facts["Report"] == "https://airflow.example/mlops/lake/reports/drift/a_b/index.html"
    assert facts["Stored at"] == uri


def test_rejection_mail_links_the_lake_copy(data_root: Path) -> None:
    from include.notify.templates import TaskContext
    from include.registry.alerts import promotion_rejected

    lake_copy = str(data_root / "lake/reports/promotion/fraud/v4/comparison.html")
    ctx = TaskContext("train_model", "gate", "r", "2026-11-20", 1, "L", "")
    mail = promotion_rejected(
        ctx,
        {
            "model": "fraud",
            "version": 4,
            "report_uri": "runs:/x/y.html",
            "lake_report_uri": lake_copy,
        },
    )
    page = "https://airflow.example/mlops/lake/reports/promotion/fraud/v4/comparison.html"
    assert f"Comparison page: {page}" in mail.text and page in mail.html
    assert "runs:/x/y.html" in mail.text


def test_deployment_mail_links_the_records() -> None:
    from include.deployment.alerts import deployment_failed
    from include.notify.templates import TaskContext

    ctx = TaskContext("deploy_model", "switch", "r", "2026-11-20", 1, "L", "boom")
    mail = deployment_failed(ctx, version="4", serving=None, url="http://svc")
    assert "https://airflow.example/mlops/deployments" in mail.text
    assert "https://airflow.example/mlops/deployments" in mail.html
