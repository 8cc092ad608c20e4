"""The console with several use cases: each has its own pages under ``/mlops/uc/<name>/``.

Given ``MLOPS_USECASES=fraud,flights`` and a report in each use case's lake, when a page of
one use case is asked for, then it serves that use case's files only, names it, and links to
the other; a use case the platform does not run is a 404, and unauthenticated requests are
refused there too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


@pytest.fixture
def two_lakes(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_USECASES", "fraud,flights")
    monkeypatch.delenv("MLOPS_USECASE", raising=False)
    for name in ("fraud", "flights"):
        report = data_root / "lake" / name / "reports" / "drift" / "w" / "index.html"
        report.parent.mkdir(parents=True)
        report.write_text(f"<p>REPORT-OF-{name.upper()}</p>")
    return data_root


def test_each_use_case_serves_its_own_lake(client, two_lakes: Path) -> None:
    for name in ("fraud", "flights"):
        r = client.get(f"/mlops/uc/{name}/lake/reports/drift/w/index.html")
        assert r.status_code == 200, (name, r.text)
        assert f"REPORT-OF-{name.upper()}" in r.text
        other = "FLIGHTS" if name == "fraud" else "FRAUD"
        assert f"REPORT-OF-{other}" not in r.text
    # The plain pages are the first use case's (the Airflow menu's entries point there).
    r = client.get("/mlops/lake/reports/drift/w/index.html")
    assert r.status_code == 200 and "REPORT-OF-FRAUD" in r.text


def test_a_page_names_its_use_case_and_links_to_the_others(client, two_lakes: Path) -> None:
    r = client.get("/mlops/uc/flights/lake/reports/", headers={"accept": "text/html"})
    assert r.status_code == 200, r.text
    title = r.text.split("<title>")[1].split("</title>")[0]
    assert title.endswith("· flights · MLOps console"), title
    assert 'href="/mlops/uc/fraud/"' in r.text
    assert 'href="/mlops/uc/flights/inventory"' in r.text  # its own nav stays in it
    home = client.get("/mlops/", headers={"accept": "text/html"})
    assert 'href="/mlops/uc/flights/"' in home.text and 'href="/mlops/uc/fraud/"' in home.text


def test_a_use_case_the_platform_does_not_run_is_not_found(client, two_lakes: Path) -> None:
    r = client.get("/mlops/uc/payments/lake/reports/")
    assert r.status_code == 404
    assert "payments" in r.json()["detail"]


def test_a_use_case_page_needs_a_login_too(anonymous, two_lakes: Path) -> None:
    r = anonymous.get("/mlops/uc/flights/lake/reports/drift/w/index.html")
    assert r.status_code in (401, 403)
    assert "REPORT-OF" not in r.text
