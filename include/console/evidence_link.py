"""The "Evidence" button of a task in Airflow's UI: the console page its task pointed to.

A task (``@task`` or classic) pushes the address under the XCom key
:data:`include.console.links.EVIDENCE_XCOM_KEY`; the plugin registers :class:`EvidenceLink`
as a *global* operator extra link, so every task gets it without changing its operator. In
Airflow 3.3 the api-server resolves links (``GET /api/v2/dags/{dag}/dagRuns/{run}/
taskInstances/{task}/links``: ``SerializedBaseOperator.get_extra_links`` → ``get_link(operator,
ti_key=...)``); this reads the XCom from the metadata DB the way Airflow's own
``XComOperatorLink`` does (reused here). No XCom → empty link, which the UI hides.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

from include.console.links import EVIDENCE_XCOM_KEY


class EvidenceLink(BaseOperatorLink):
    """Global extra link "Evidence" → the XCom ``evidence_url`` of the task instance."""

    name = "Evidence"

    @property
    def xcom_key(self) -> str:
        return EVIDENCE_XCOM_KEY

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.serialization.definitions.operatorlink import XComOperatorLink

        url = XComOperatorLink(name=self.name, xcom_key=EVIDENCE_XCOM_KEY).get_link(
            operator, ti_key=ti_key
        )
        return url if url.startswith(("http://", "https://", "/")) else ""
