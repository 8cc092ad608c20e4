"""The "Evidence" extra link: a task pushes a console address, the UI shows a button to it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from include.console.evidence_link import EvidenceLink
from include.console.links import EVIDENCE_XCOM_KEY


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.fixture(autouse=True)
def _base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CONSOLE_URL", "http://ui:8080")


def test_a_task_pushes_the_console_address_of_its_evidence(data_root: Path) -> None:
    from include.orchestration.evidence import push_evidence

    ti = _TI()
    docs = str(data_root / "lake/reports/validation/t/2026-01-01/r/data_docs/index.html")
    url = push_evidence(docs, context={"ti": ti})
    assert url == "http://ui:8080/mlops/lake/reports/validation/t/2026-01-01/r/data_docs/index.html"
    assert ti.pushed == {EVIDENCE_XCOM_KEY: url}


def test_nothing_is_pushed_for_what_the_console_does_not_serve(data_root: Path) -> None:
    from include.orchestration.evidence import push_evidence

    ti = _TI()
    assert push_evidence(str(data_root / "lake/validated/x.parquet"), context={"ti": ti}) is None
    assert push_evidence(None, context={"ti": ti}) is None
    assert ti.pushed == {}
    assert push_evidence(page="inventory", context={"ti": ti}) == "http://ui:8080/mlops/inventory"


def test_the_link_reads_the_xcom_like_airflows_own_xcom_link(monkeypatch) -> None:
    # Airflow's XComOperatorLink reads the task instance's XCom from the metadata DB in the
    # api-server; EvidenceLink asks it for the evidence key.
    from airflow.serialization.definitions import operatorlink

    asked: list[tuple[str, str]] = []

    def fake_get_link(self, operator, *, ti_key):
        asked.append((self.xcom_key, ti_key.task_id))
        return {
            "validate_batch": "http://ui:8080/mlops/lake/reports/x.html",
            "evil": "javascript:alert(1)",
        }.get(ti_key.task_id, "")

    monkeypatch.setattr(operatorlink.XComOperatorLink, "get_link", fake_get_link)
    link = EvidenceLink()
    assert link.name == "Evidence"
    key = SimpleNamespace(dag_id="d", run_id="r", task_id="validate_batch", map_index=-1)
    assert link.get_link(None, ti_key=key) == "http://ui:8080/mlops/lake/reports/x.html"
    assert link.get_link(None, ti_key=SimpleNamespace(**{**vars(key), "task_id": "other"})) == ""
    assert link.get_link(None, ti_key=SimpleNamespace(**{**vars(key), "task_id": "evil"})) == ""
    assert asked[0] == (EVIDENCE_XCOM_KEY, "validate_batch")


def test_the_link_is_global_so_every_task_has_it(plugin_module) -> None:
    # SerializedBaseOperator.extra_links = its own links + plugins' global links: a @task
    # gets the button without any operator change (Airflow 3.3 serialization/definitions).
    (link,) = plugin_module.MlopsConsolePlugin.global_operator_extra_links
    assert isinstance(link, EvidenceLink)
