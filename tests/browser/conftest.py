"""The browser tier: the operator's console in a real headless Chromium (Debian's package,
driven by Playwright with that executable; nothing is downloaded).

One ``make run`` (the embedded default, as a person starts it) on a scratch data directory,
with the spec asking a person to approve **every** promotion, the eight reference days, and
one extra day landed with a missing column. The tier's tests then log in to the Airflow UI,
follow the failed ingest run to its Data Docs (with every request off this machine refused:
the page must render from the console's own assets), open the inventory, approve the
pending promotion and check the report URLs refuse a browser without a session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from devtools.trained_platform import DAYS, small_spec
from scripts.embedded.airflow_api import AirflowApi
from scripts.embedded.trial import ROOT, EmbeddedRun, ingested
from tests.airflow_rest import task_instances, trigger, wait, wait_run
from tests.platform_logs import keep_if_failed

CHROMIUM = Path(os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium"))
ROWS = 1500
# A day before the reference days: the schedule never runs it, the tier triggers it by hand.
FAULTY_DAY = DAYS[0] - timedelta(days=1)
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


@dataclass
class Console:
    run: EmbeddedRun
    api: AirflowApi
    user: str
    password: str
    faulty_run_id: str
    train_run_id: str
    spec: Path
    offsite: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        # The address a person opens (the evidence links are built on it too): the session
        # cookie is per host, so the tier uses the same one.
        return f"http://localhost:{self.run.ports['MLOPS_UI_PORT']}"


def _awaiting_approval(api: AirflowApi) -> str | None:
    for r in api.dag_runs("train_model"):
        for ti in task_instances(api, "train_model", r["dag_run_id"]):
            if ti["task_id"] == "approve_promotion" and ti["state"] == "awaiting_input":
                return r["dag_run_id"]
    return None


@pytest.fixture(scope="package")
def console() -> Iterator[Console]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)")
    root = Path(tempfile.mkdtemp(prefix="mlops-browser-"))
    spec = small_spec(root / "spec.yaml")
    raw = yaml.safe_load(spec.read_text())
    raw["model"]["approval"]["required_when"] = ["always"]
    spec.write_text(yaml.safe_dump(raw))
    run = EmbeddedRun(
        root / "data",
        days=len(DAYS),
        rows=ROWS,
        extra_env={"MLOPS_BOOTSTRAP_REFERENCE": "true", "MLOPS_USECASE_SPEC": str(spec)},
    )
    run.start(root / "make-run.log")
    try:
        run.wait_for("every reference day ingested", ingested, timeout_s=1500)
        passwords = run.data_root / "airflow" / "simple_auth_manager_passwords.json.generated"
        user, password = next(iter(json.loads(passwords.read_text()).items()))
        api = AirflowApi(f"http://127.0.0.1:{run.ports['MLOPS_UI_PORT']}", user, passwords)
        # A batch with a missing column (fault A1), landed and ingested by hand.
        env = {
            **os.environ,
            "MLOPS_DATA_ROOT": str(run.data_root),
            "MLOPS_USECASE_SPEC": str(spec),
        }
        subprocess.run(
            [sys.executable, "-m", "devtools.simulator", "--start", FAULTY_DAY.isoformat()]
            + ["--days", "1", "--feed", "transactions", "--rows", "300"]
            + ["--fault", "missing_column"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        faulty = trigger(api, "ingest_transactions", {"batch_date": FAULTY_DAY.isoformat()})
        assert wait_run(api, "ingest_transactions", faulty, timeout_s=600) == "failed"
        train = wait("a promotion awaiting approval", lambda: _awaiting_approval(api), 1500, 5)
        yield Console(run, api, user, password, faulty, train, spec)
    finally:
        try:
            code = run.ctrl_c()
            assert code in (0, -2, 130), run.text()[-3000:]
        finally:
            run.kill()
            keep_if_failed("browser", root)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            # As root, without a GPU, on a closed network (no background lookups).
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def offline_context(chromium: Any, console: Console, **kwargs: Any) -> Any:
    """A browser context where every request off this machine is refused and remembered."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 900}, **kwargs)
    ctx.set_default_timeout(30_000)

    def guard(route: Any) -> None:
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            console.offsite.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    return ctx


def log_in(page: Any, console: Console, path: str = "/") -> None:
    page.goto(console.base + path)
    page.get_by_label("Username").fill(console.user)
    page.get_by_label("Password").fill(console.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
