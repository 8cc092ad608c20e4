"""The operator's console, as a person uses it in a browser (issue 11's browser checks).

Given the platform of this tier's fixture (a failed ingest run of a batch with a missing
column, a promotion waiting for a person), when a person logs in to the Airflow UI, then:
the failed run's evidence link opens its Data Docs, rendered in full with nothing fetched
off this machine; the inventory shows the version waiting; Approve in the UI deploys it and
records who approved; and the report URLs answer 401 to a browser without the session.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from tests.airflow_rest import task_instances, wait, wait_run
from tests.browser.conftest import FAULTY_DAY, Console, log_in, offline_context

pytestmark = pytest.mark.timeout(1800)


def _q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def test_a_failed_ingest_run_leads_to_its_data_docs_rendered_offline(
    chromium: Any, console: Console
) -> None:
    ctx = offline_context(chromium, console)
    page = ctx.new_page()
    log_in(page, console)

    # The failed run, its failed task (the quarantine), its Details: the "Evidence" link.
    page.goto(f"{console.base}/dags/ingest_transactions/runs/{_q(console.faulty_run_id)}")
    page.get_by_role("table").get_by_role("link", name="quarantine_batch", exact=True).click()
    page.get_by_title("Details", exact=True).click()
    page.get_by_role("link", name="Evidence", exact=True).click()
    page.wait_for_url("**/mlops/lake/**")
    page.wait_for_load_state("networkidle")

    assert "/mlops/lake/quarantine/transactions/" in page.url, page.url
    assert FAULTY_DAY.isoformat() in page.url and page.url.endswith("/index.html"), page.url
    # Rendered in full: Bootstrap's stylesheet applied, jQuery and bootstrap-table ran (the
    # listing of validation results is built by them), Font Awesome's font loaded.
    assert page.evaluate("typeof window.jQuery") == "function"
    assert page.evaluate("!!(window.jQuery && window.jQuery.fn.bootstrapTable)")
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Segoe UI" in font and "sans-serif" in font, font  # Bootstrap's stack, not bare
    text = page.inner_text("body")
    assert "Showing 1 to 1 of 1 rows" in text and "transactions_raw" in text, text[:2000]
    loaded = (
        "[...document.fonts].some(f => f.family.includes('Font Awesome') && f.status == 'loaded')"
    )
    assert page.evaluate(loaded), "no Font Awesome face loaded: the icons are missing"
    assert console.offsite == [], f"requests off this machine: {console.offsite[:5]}"
    ctx.close()


def test_report_urls_refuse_a_browser_without_the_session(chromium: Any, console: Console) -> None:
    ctx = offline_context(chromium, console)
    page = ctx.new_page()
    day = FAULTY_DAY.isoformat()
    url = f"{console.base}/mlops/lake/reports/validation/transactions/{day}/"
    response = page.goto(url)
    assert response is not None and response.status == 401, response and response.status
    assert "Data Docs" not in page.content() and "expectation" not in page.content().lower()
    # A forged session cookie is no better.
    ctx.add_cookies([{"name": "_token", "value": "forged.jwt.value", "url": console.base}])
    response = page.goto(url)
    assert response is not None and response.status in (401, 403), response.status
    ctx.close()


def test_inventory_shows_the_waiting_version_and_approve_deploys_it(
    chromium: Any, console: Console
) -> None:
    ctx = offline_context(chromium, console)
    page = ctx.new_page()
    log_in(page, console)

    # The inventory, from the UI's Browse menu (the console page in the UI's frame).
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="Model inventory").click()
    frame = page.frame_locator("iframe")
    frame.get_by_text("Model inventory").first.wait_for()
    waiting = frame.locator("body").inner_text()
    assert "fraud_is_fraud" in waiting
    assert "challenger" in waiting

    # The approval task in the train run: Approve.
    page.goto(
        f"{console.base}/dags/train_model/runs/{_q(console.train_run_id)}"
        "/tasks/approve_promotion/required_actions"
    )
    # The form asks why (kept on the version with who and when).
    page.locator("#element_comment").fill("browser tier: figures checked")
    # The answer is the UI's PATCH of the task's hitlDetails: waited on as an event (it
    # cannot be missed), then the toast a person reads (shown for seconds).
    with page.expect_response(
        lambda r: "/hitlDetails" in r.url and r.request.method == "PATCH"
    ) as answered:
        page.get_by_role("button", name="Approve").click()
    assert answered.value.ok, (answered.value.status, answered.value.text())
    page.get_by_text("response successful").wait_for()

    api = console.api
    wait(
        "approve_promotion answered",
        lambda: any(
            ti["task_id"] == "promote_approved" and ti["state"] == "success"
            for ti in task_instances(api, "train_model", console.train_run_id)
        ),
        300,
        3,
    )
    assert wait_run(api, "train_model", console.train_run_id, timeout_s=300) == "success"
    deploy = wait("a deploy_model run", lambda: api.dag_runs("deploy_model"), 300, 3)
    assert wait_run(api, "deploy_model", deploy[-1]["dag_run_id"], 900) == "success"

    # Who approved, recorded in the lake (and as approval.* tags on the version).
    folder = console.run.data_root / "lake" / "registry" / "approvals"
    # v<N>.json is a decision; v<N>.requested.json marks the request's mail as sent.
    records = [p for p in folder.glob("*/v*.json") if not p.name.endswith(".requested.json")]
    assert len(records) == 1, records
    decision = json.loads(records[0].read_text())
    assert decision["decision"] == "approved" and decision["by"] == console.user, decision
    assert decision["comment"] == "browser tier: figures checked"

    # The inventory shows it serving.
    page.goto(f"{console.base}/mlops/inventory")
    served = page.inner_text("body")
    assert "serving" in served and "champion" in served
    assert console.offsite == [], console.offsite[:5]
    ctx.close()


def test_A10_a_quarantined_unit_change_accepted_in_the_ui_is_published(
    chromium: Any, console: Console
) -> None:
    """A batch whose amounts all moved x10 is quarantined against the feed's history; a
    person accepts it in Required actions with a comment, and it is published."""
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime

    from scripts.embedded.trial import ROOT
    from tests.airflow_rest import trigger

    api, day = console.api, datetime.now(UTC).date().isoformat()  # its interval has not ended
    env = {
        **os.environ,
        "MLOPS_DATA_ROOT": str(console.run.data_root),
        "MLOPS_USECASE_SPEC": str(console.spec),
    }
    subprocess.run(
        [sys.executable, "-m", "devtools.simulator", "--start", day, "--days", "1"]
        + ["--feed", "transactions", "--rows", "1500", "--fault", "unit_x10"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    ingest = trigger(api, "ingest_transactions", {"batch_date": day})
    assert wait_run(api, "ingest_transactions", ingest, timeout_s=600) == "failed"
    accept = trigger(api, "accept_batch", {"feed": "transactions", "day": day})
    wait(
        "accept_batch's review awaiting input",
        lambda: any(
            ti["task_id"] == "review" and ti["state"] == "awaiting_input"
            for ti in task_instances(api, "accept_batch", accept)
        ),
        300,
        3,
    )
    ctx = offline_context(chromium, console)
    page = ctx.new_page()
    log_in(page, console)
    page.goto(f"{console.base}/dags/accept_batch/runs/{_q(accept)}/tasks/review/required_actions")
    page.get_by_text("a unit change?").first.wait_for()  # the cause, in the request's body
    page.locator("#element_comment").fill("browser tier: the feed moved to cents")
    with page.expect_response(
        lambda r: "/hitlDetails" in r.url and r.request.method == "PATCH"
    ) as answered:
        page.get_by_role("button", name="Approve").click()
    assert answered.value.ok, (answered.value.status, answered.value.text())
    assert wait_run(api, "accept_batch", accept, timeout_s=300) == "success"
    republished = wait(
        "the accepted batch ingested",
        lambda: [
            r
            for r in api.dag_runs("ingest_transactions")
            if r["dag_run_id"] != ingest and (r.get("conf") or {}).get("batch_date") == day
        ],
        300,
        3,
    )
    run_id = republished[-1]["dag_run_id"]
    assert wait_run(api, "ingest_transactions", run_id, timeout_s=600) == "success"
    lake = console.run.data_root / "lake"
    assert (lake / "validated" / "transactions" / f"date={day}" / "data.parquet").exists()
    (record,) = (lake / "quarantine" / "transactions" / day).glob("accepted-*.json")
    decision = json.loads(record.read_text())
    assert decision["by"] == console.user, decision
    assert decision["comment"] == "browser tier: the feed moved to cents"
    assert console.offsite == [], console.offsite[:5]
    ctx.close()
