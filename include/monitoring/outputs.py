"""A monitoring run's files, at a stable place per window (a re-run replaces them):

    <lake>/reports/drift/<first>_<last>/index.html          the summary, links to the reports
                                        summary.json        the run's numbers and decision
                                        <comparison>.html   one Evidently report each

and its snapshots in the Evidently workspace (``settings.evidently_workspace``; ``make
evidently-ui`` serves it), one project per registered model, so the trends show over time.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from include import layout, storage
from include.monitoring.reports import Measured
from include.notify.templates import esc

TITLES = {
    "data_drift": "Data drift (features as scored vs the training set)",
    "prediction_drift": "Prediction drift (scores vs the champion's holdout scores)",
    "skew": "Training/serving skew (online vs offline features, same events)",
    "quality": "Quality on matured labels (vs the champion's holdout)",
}


def write_reports(folder: str, measured: list[Measured]) -> dict[str, str]:
    """Each comparison's Evidently HTML (self-contained); name -> URI."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="mlops-drift-") as tmp:
        for m in measured:
            if m.snapshot is None:
                continue
            local = Path(tmp) / f"{m.name}.html"
            m.snapshot.save_html(str(local))
            uri = storage.join(folder, f"{m.name}.html")
            storage.write_bytes(uri, local.read_bytes())
            out[m.name] = uri
    return out


def write_summary(folder: str, summary: dict[str, Any]) -> str:
    uri = storage.join(folder, layout.MONITORING_SUMMARY)
    storage.write_bytes(uri, json.dumps(summary, indent=2, sort_keys=True, default=str).encode())
    index = storage.join(folder, layout.MONITORING_INDEX)
    storage.write_bytes(index, index_html(summary).encode())
    return uri


def index_html(summary: dict[str, Any]) -> str:
    """The window's page: verdicts and decision first, then each comparison and its report."""
    decision = summary.get("decision") or {}
    verdicts = decision.get("verdicts") or summary.get("verdicts") or {}
    rows = "".join(
        f"<tr><td>{esc(TITLES.get(k, k))}</td><td><b>{esc(v)}</b></td>"
        f"<td>{esc(_window_of(summary, k))}</td><td>{_link(summary, k)}</td></tr>"
        for k, v in verdicts.items()
    )
    details = "".join(
        f"<h3>{esc(TITLES.get(k, k))}</h3>"
        f"<pre>{esc(json.dumps(_brief(v), indent=2, default=str))}</pre>"
        for k, v in (summary.get("measured") or {}).items()
        if v
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in decision.get("notes", []))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Monitoring {esc(summary.get('window'))}</title></head><body>"
        f"<h1>Monitoring {esc(summary.get('model'))} v{esc(summary.get('champion_version'))}, "
        f"window {esc(summary.get('window'))}</h1>"
        f"<p>Decision: <b>{esc(decision.get('status'))}</b>: {esc(decision.get('reason'))}</p>"
        f"<ul>{notes}</ul>"
        f"<table border='1' cellpadding='4'><tr><th>comparison</th><th>verdict</th>"
        f"<th>window</th><th>report</th></tr>{rows}</table>"
        f"<p>Run {esc(summary.get('run_id'))}, measured {esc(summary.get('measured_at'))}.</p>"
        f"{details}</body></html>"
    )


def _window_of(summary: dict[str, Any], name: str) -> str:
    """The days a comparison judged: quality its matured window, the others the window."""
    if name == "quality" and summary.get("quality_window"):
        return str(summary["quality_window"])
    return str(summary.get("window"))


def _link(summary: dict[str, Any], name: str) -> str:
    uri = (summary.get("reports") or {}).get(name)
    if not uri:
        return "-"
    return f"<a href='{esc(uri.rsplit('/', 1)[-1])}'>{esc(name)}.html</a>"


def _brief(measured: dict[str, Any]) -> dict[str, Any]:
    """A comparison's numbers without the per-column table (that is in its report)."""
    return {k: v for k, v in measured.items() if k != "columns"}


def add_to_workspace(workspace: Path, project_name: str, measured: list[Measured]) -> int:
    """Each snapshot into the workspace's project (created on first use); returns how many."""
    from evidently.ui.workspace import Workspace

    workspace.mkdir(parents=True, exist_ok=True)
    ws = Workspace.create(str(workspace))
    found = ws.search_project(project_name)
    project = (
        found[0]
        if found
        else ws.create_project(
            project_name, description="monitor_drift: drift, skew and quality of the champion"
        )
    )
    added = 0
    for m in measured:
        if m.snapshot is None:
            continue
        ws.add_run(project.id, m.snapshot, include_data=False)
        added += 1
    return added
