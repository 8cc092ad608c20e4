"""Quarantine evidence (raw files, unmasked validation result, Data Docs) is for admins only;
the masked summary of every quarantined batch is for everyone signed in.

Users are SimpleAuthManager users with a role (``make run`` and the production profile use
that auth manager); ``op`` is the highest role below ``admin``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from include import layout
from include.quality.quarantine import quarantine_batch

FEED, DAY, RUN = "events", date(2026, 11, 20), "run_1"
RAW = "C-RAW-0001"  # a raw personal value: in the evidence, never in the masked files
MASKED = "pseudo-7f3a"
Q = f"/mlops/lake/quarantine/{FEED}/{DAY}/{RUN}"
MASKED_REPORT = f"/mlops/lake/reports/validation/{FEED}/{DAY}/{RUN}/validation_result.json"
NOT_ADMINS = ["viewer", "user", "op"]
EVIDENCE = [
    f"{Q}/raw/batch.csv",
    f"{Q}/raw/",
    f"{Q}/raw",
    f"{Q}/validation_result.json",
    f"{Q}/data_docs/",
    f"{Q}/data_docs/index.html",
    f"{Q}/data_docs/validations/run.html",
    f"/mlops/lake/quarantine/{FEED}/{DAY}/accepted-0123abcd.json",
]
OPEN = [f"{Q}/quarantine.json", f"{Q}/decision.json", MASKED_REPORT]


@pytest.fixture
def batch(lake_root: Path) -> Path:
    """A batch quarantined as ingest does it for a feed with pii columns: unmasked evidence
    in the quarantine folder, the masked report in reports/; its quarantine folder."""
    lake = str(lake_root)
    folder = Path(layout.quarantine_dir(lake, FEED, DAY, RUN))
    landing = lake_root.parent / "landing" / FEED / DAY.isoformat()
    landing.mkdir(parents=True)
    (landing / "batch.csv").write_text(f"id,amount\n{RAW},1\n")
    docs = folder / layout.DATA_DOCS
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text(f"<td>{RAW}</td>")
    (docs / "validations" / "run.html").write_text(f"<td>{RAW}</td>")
    (folder / layout.VALIDATION_RESULT).write_text(json.dumps({"sample_keys": [RAW]}))
    reports = Path(layout.report_dir(lake, FEED, DAY, RUN))
    reports.mkdir(parents=True)
    (reports / layout.VALIDATION_RESULT).write_text(json.dumps({"sample_keys": [MASKED]}))
    report = {
        "feed": FEED,
        "day": DAY.isoformat(),
        "run_id": RUN,
        "row_count": 1,
        "files": [{"uri": str(landing / "batch.csv")}],
        "causes": ["3 ids are not in the expected format"],
        "checks": [
            {
                "name": "id_format",
                "stage": "rules",
                "column": "id",
                "success": False,
                "unexpected_count": 3,
                "sample_values": [MASKED],
            }
        ],
    }
    evidence = {
        "report_uri": str(folder / layout.VALIDATION_RESULT),
        "data_docs_uri": str(docs / "index.html"),
    }
    quarantine_batch(report, evidence, str(folder))
    (folder / layout.DECISION).write_text(json.dumps({"decision": "kept_in_quarantine"}))
    (folder.parent / "accepted-0123abcd.json").write_text(json.dumps({"by": "someone"}))
    return folder


@pytest.mark.parametrize("role", NOT_ADMINS)
@pytest.mark.parametrize("route", EVIDENCE)
def test_E8_a_non_admin_gets_403_on_evidence_and_where_the_masked_report_is(
    client_as, batch, role: str, route: str
) -> None:
    r = client_as(role).get(route)
    assert r.status_code == 403, (role, route, r.status_code)
    assert RAW not in r.text
    detail = r.json()["detail"]
    assert "raw personal data: only admins can open it" in detail
    if "/run_1/" in route:  # inside a batch: its masked report is named
        assert f"the masked report is at {MASKED_REPORT}" in detail
        assert r.json()["see"]["masked report"] == MASKED_REPORT


def test_E8_the_403_page_links_the_masked_report(client_as, batch) -> None:
    r = client_as("viewer").get(f"{Q}/data_docs/index.html", headers={"Accept": "text/html"})
    assert r.status_code == 403 and RAW not in r.text
    assert "only admins can open it" in r.text
    assert f'href="{MASKED_REPORT}"' in r.text and 'href="/mlops/quarantine"' in r.text


def test_E8_the_restriction_holds_under_every_use_case_prefix(client_as, batch) -> None:
    from include.config import current_usecase

    route = f"/mlops/uc/{current_usecase().name}/lake/quarantine/{FEED}/{DAY}/{RUN}/raw/batch.csv"
    assert client_as("op").get(route).status_code == 403
    assert client_as("admin").get(route).status_code == 200


@pytest.mark.parametrize("route", EVIDENCE)
def test_E8_an_admin_opens_the_evidence(client_as, batch, route: str) -> None:
    r = client_as("admin").get(route)
    assert r.status_code in (200, 307), (route, r.status_code)
    if route.endswith((".csv", ".html", ".json")) and "accepted" not in route:
        assert RAW in r.text


@pytest.mark.parametrize("role", [*NOT_ADMINS, "admin"])
@pytest.mark.parametrize("route", OPEN)
def test_E8_everyone_reads_the_summary_the_decision_and_the_masked_report(
    client_as, batch, role: str, route: str
) -> None:
    r = client_as(role).get(route)
    assert r.status_code == 200, (role, route)
    assert RAW not in r.text


def test_E8_listings_hide_the_evidence_from_non_admins(client_as, batch) -> None:
    evidence = ('href="raw/"', 'href="data_docs/"', 'href="validation_result.json"')
    r = client_as("op").get(f"{Q}/")
    assert r.status_code == 200
    assert 'href="quarantine.json"' in r.text and 'href="decision.json"' in r.text
    assert not any(e in r.text for e in evidence)
    assert "3 more: quarantine evidence" in r.text and "admins only" in r.text
    day = client_as("op").get(f"/mlops/lake/quarantine/{FEED}/{DAY}/")
    assert 'href="run_1/"' in day.text and "accepted-0123abcd.json" not in day.text
    r = client_as("admin").get(f"{Q}/")
    assert all(e in r.text for e in evidence) and "admins only" not in r.text


def test_E8_the_quarantine_page_shows_the_summary_to_all_and_evidence_links_to_admins(
    client_as, batch
) -> None:
    evidence = (
        f'href="{Q}/data_docs/index.html"',
        f'href="{Q}/validation_result.json"',
        f'href="{Q}/raw/"',
    )
    for role in NOT_ADMINS:
        r = client_as(role).get("/mlops/quarantine")
        assert r.status_code == 200
        # the masked summary: causes, failed checks, where to read more
        assert "3 ids are not in the expected format" in r.text and "id_format" in r.text
        assert f'href="{Q}/quarantine.json"' in r.text and f'href="{MASKED_REPORT}"' in r.text
        assert not any(e in r.text for e in evidence), role
        assert "You are not an admin" in r.text and RAW not in r.text
        # the evidence is kept 30 days (the spec's privacy.quarantine_retention_days)
        assert "kept until" in r.text and "deleted 30 days after" in r.text
    r = client_as("admin").get("/mlops/quarantine")
    assert all(e in r.text for e in evidence) and "You are not an admin" not in r.text


def test_E8_the_quarantine_json_links_evidence_for_admins_only(client_as, batch) -> None:
    (viewer,) = client_as("viewer").get("/mlops/api/quarantine").json()
    (admin,) = client_as("admin").get("/mlops/api/quarantine").json()
    assert viewer["summary"]["causes"] == ["3 ids are not in the expected format"]
    assert set(viewer["links"]) == {"summary", "masked report"}
    assert set(admin["links"]) == {
        "summary",
        "masked report",
        "Data Docs",
        "validation result (unmasked)",
        "raw files",
    }


def test_E8_deleted_evidence_is_said_and_no_longer_linked(client_as, batch, lake_root) -> None:
    from include.quality.retention import expire_quarantine

    later = datetime.now(UTC) + timedelta(days=31)
    expire_quarantine(str(lake_root), FEED, 30, now=later)
    r = client_as("admin").get("/mlops/quarantine")
    assert "3 ids are not in the expected format" in r.text
    assert "deleted at" in r.text and "30 days after the batch was quarantined" in r.text
    assert f'href="{Q}/raw/"' not in r.text and f'href="{Q}/data_docs/index.html"' not in r.text
    assert client_as("admin").get(f"{Q}/raw/batch.csv").status_code == 404


def test_E8_other_auth_managers_are_asked_for_the_evidence_view(monkeypatch) -> None:
    # An auth manager that is not SimpleAuthManager (FAB, Keycloak…): admin is whoever it
    # grants GET on the custom view "Quarantine evidence".
    import airflow.api_fastapi.app as airflow_app_module

    from include.console.app import EVIDENCE_VIEW, is_admin

    asked = []

    class Manager:
        def is_authorized_custom_view(self, *, method, resource_name, user):
            asked.append((method, resource_name, user))
            return user == "granted"

    monkeypatch.setattr(airflow_app_module, "get_auth_manager", lambda: Manager())
    assert is_admin("granted") is True and is_admin("someone") is False
    assert asked[0] == ("GET", EVIDENCE_VIEW, "granted") and EVIDENCE_VIEW == "Quarantine evidence"
