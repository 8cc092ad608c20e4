"""The operator console in Airflow's UI (code: ``include/console/``; see plugins/README.md).

Registers the console app under ``/mlops`` of the api-server (behind Airflow's login), its
pages as nav entries shown in the UI (iframes, same origin), and a global "Evidence" extra
link on every task that pushed an ``evidence_url`` XCom.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.console.app import create_app
from include.console.evidence_link import EvidenceLink


class MlopsConsolePlugin(AirflowPlugin):
    name = "mlops_console"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/mlops", "name": "MLOps console"}]
    external_views = [
        {
            "name": "Model inventory",
            "href": "/mlops/inventory",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-inventory",
        },
        {
            "name": "Lineage",
            "href": "/mlops/lineage",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-lineage",
        },
        {
            "name": "Deployments",
            "href": "/mlops/deployments",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-deployments",
        },
        {
            "name": "Reports",
            "href": "/mlops/lake/reports/",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-reports",
        },
        {
            # Every quarantined batch's masked summary; its raw evidence for admins only.
            "name": "Quarantine",
            "href": "/mlops/quarantine",
            "destination": "nav",
            "category": "browse",
            "url_route": "mlops-quarantine",
        },
    ]
    global_operator_extra_links = [EvidenceLink()]
