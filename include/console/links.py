"""Addresses of the operator console and of Airflow's UI pages, for mails, XComs and pages.

The console is the ``mlops_console`` plugin (``plugins/mlops_console.py``): a FastAPI app that
Airflow's api-server mounts under ``/mlops`` of the UI's own origin, behind Airflow's login.
``MLOPS_CONSOLE_URL`` is the address people open Airflow's UI at (the console lives below
it); unset, it falls back to ``AIRFLOW__API__BASE_URL``, then ``http://localhost:8080``.

A lake location becomes a console address only when it lies in an area the console serves
(:data:`SERVED_AREAS`); anything else (a landing file, an ``s3://`` bucket of another root)
gives ``None`` and the caller keeps the plain location.

Airflow 3.3 UI routes (from the router in ``airflow/ui/dist``): ``/dags/{dag}/runs/{run}``,
``/dags/{dag}/runs/{run}/tasks/{task}``, ``.../tasks/{task}/mapped/{map_index}``.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from urllib.parse import quote, urlencode

# The XCom key a task pushes with its evidence's console address; the plugin's global
# "Evidence" extra link reads it (include/console/evidence_link.py).
EVIDENCE_XCOM_KEY = "evidence_url"
# Where Airflow's api-server mounts the console app (the plugin's url_prefix).
CONSOLE_PREFIX = "/mlops"
# Lake areas the console serves, relative to the lake root (first path segment).
SERVED_AREAS: tuple[str, ...] = ("reports", "quarantine", "deployments")
_DEFAULT_BASE = "http://localhost:8080"


def console_base() -> str:
    """The Airflow UI's base address, without a trailing slash."""
    for name in ("MLOPS_CONSOLE_URL", "AIRFLOW__API__BASE_URL"):
        value = os.environ.get(name, "").strip()
        if value:
            return value.rstrip("/")
    return _DEFAULT_BASE


def usecase_path(path: str = "") -> str:
    """A console path of the current use case: with several, each has its own pages under
    ``uc/<name>/`` (``uc/flights/inventory``); with one, the console's own (``inventory``)."""
    from include.config import current_usecase

    uc = current_usecase()
    return f"uc/{uc.name}/{path.lstrip('/')}" if uc.scoped else path.lstrip("/")


def console_url(path: str = "") -> str:
    """A console page of the current use case: ``console_url("inventory")`` ->
    ``<base>/mlops/inventory`` (several use cases: ``<base>/mlops/uc/<name>/inventory``)."""
    return f"{console_base()}{CONSOLE_PREFIX}/{usecase_path(path)}"


def _q(part: str) -> str:
    return quote(str(part), safe="")


def lake_relative(uri: str, lake_uri: str | None = None) -> str | None:
    """``uri`` relative to the lake root when it lies in a served area, else ``None``.

    Refuses anything with a climbing, empty-name or backslash segment rather than
    normalising it: a link must point where it says.
    """
    if lake_uri is None:
        from include.config import get_settings

        lake_uri = get_settings().lake_uri
    root, target = lake_uri.rstrip("/"), uri.strip()
    if not root.startswith("s3://"):
        if target.startswith("s3://"):
            return None
        root = os.path.abspath(root)
        target = os.path.abspath(target) if os.path.isabs(target) else target
    if not target.startswith(root + "/"):
        return None
    rel = target[len(root) + 1 :].strip("/")
    parts = rel.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    if parts[0] not in SERVED_AREAS:
        return None
    return str(PurePosixPath(*parts))


def report_url(uri: str, lake_uri: str | None = None) -> str | None:
    """The console address of a lake file or folder (report, quarantine, deployment
    record), or ``None`` when the console does not serve it."""
    rel = lake_relative(uri, lake_uri)
    if rel is None:
        return None
    return console_url("lake/" + quote(rel, safe="/"))


def dag_url(dag_id: str) -> str:
    """The Airflow UI page of one DAG (its runs, and the Trigger button)."""
    return f"{console_base()}/dags/{_q(dag_id)}"


def run_url(dag_id: str, run_id: str) -> str:
    """The Airflow UI page of one DAG run."""
    return f"{console_base()}/dags/{_q(dag_id)}/runs/{_q(run_id)}"


def task_url(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The Airflow UI page of one task instance (a mapped one with ``map_index`` >= 0)."""
    url = f"{run_url(dag_id, run_id)}/tasks/{_q(task_id)}"
    return f"{url}/mapped/{int(map_index)}" if map_index >= 0 else url


def inventory_url() -> str:
    """The console's model inventory page."""
    return console_url("inventory")


def deployments_url() -> str:
    """The console's page of every deployment record."""
    return console_url("deployments")


def lineage_url(prediction_id: str | None = None, transaction_id: str | None = None) -> str:
    """The console's lineage page, for one prediction or one transaction when given."""
    query = {
        k: v for k, v in (("prediction_id", prediction_id), ("transaction_id", transaction_id)) if v
    }
    return console_url("lineage") + (f"?{urlencode(query)}" if query else "")


def console_or_location(uri: str | None) -> str:
    """For mails: the console address of a lake location when the console serves it, else
    the location itself (a mail always says where the evidence is)."""
    if not uri:
        return ""
    try:
        return report_url(str(uri)) or str(uri)
    except ValueError:
        return str(uri)
