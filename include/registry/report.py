"""The gate's side-by-side report (champion vs challenger) as a small self-contained HTML page.

The JSON form is the comparison dict itself; this page is what a reviewer opens from the
model version's ``gate.report`` tag or from the rejection email. Besides the checks and the
metrics it shows both models' serving footprint against the spec's budget and the decision
threshold the challenger was given.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from include.modeling.metrics import METRICS

_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    ".pass{color:#186a3b}.fail{color:#b03a2e;font-weight:bold}.muted{color:#888}"
)


def _fmt(value: Any) -> str:
    if value is None:
        return '<span class="muted">n/a</span>'
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return '<span class="muted">not judged</span>'
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def _side(comparison: Mapping[str, Any], who: str) -> Mapping[str, Any]:
    return comparison.get(who) or {}


def _budget(
    comparison: Mapping[str, Any], champ: Mapping[str, Any], chal: Mapping[str, Any]
) -> list[str]:
    """Latency and size of both models against the serving budget (the challenger's is
    judged; the champion's is context)."""
    budget = comparison.get("budget") or {}
    c_fp, h_fp = champ.get("footprint") or {}, chal.get("footprint") or {}
    rows = [
        ("single-row predict p50 (ms)", "model_p50_ms", None),
        ("single-row predict p99 (ms)", "model_p99_ms", budget.get("model_p99_ms")),
        ("model artifacts (MB)", "model_mb", budget.get("max_model_mb")),
    ]
    out = [
        "<h2>Serving budget</h2><table><tr><th>measure</th><th>champion</th>"
        "<th>challenger</th><th>budget</th><th>challenger verdict</th></tr>"
    ]
    for label, key, limit in rows:
        value = h_fp.get(key)
        verdict = None if limit is None or value is None else value <= limit
        out.append(
            f"<tr><td>{label}</td><td>{_fmt(c_fp.get(key))}</td><td>{_fmt(value)}</td>"
            f"<td>{_fmt(limit)}</td><td>{'' if limit is None else _verdict(verdict)}</td></tr>"
        )
    out.append(
        "</table><p class='muted'>Latency: in process, one holdout row per call; a call "
        "counts the smaller of its wall and process-CPU time (time the process was not "
        "running is the machine's, not the model's); p50/p99 of the quietest of "
        f"{_fmt(h_fp.get('latency_rounds'))} rounds of {_fmt(h_fp.get('latency_calls'))} "
        f"calls. The challenger's plain wall-clock p99 in that round: "
        f"{_fmt(h_fp.get('model_wall_p99_ms'))} ms.</p>"
    )
    return out


def _threshold(point: Mapping[str, Any] | None) -> list[str]:
    """The challenger's decision threshold, fixed on this holdout."""
    e = html.escape
    if not point:
        return []
    rows = [
        ("threshold (flag when score &ge; it)", e(repr(float(point["threshold"])))),
        ("target false-positive rate", _fmt(point.get("target_fpr"))),
        ("holdout false-positive rate", _fmt(point.get("fpr"))),
        ("holdout recall", _fmt(point.get("recall"))),
        (
            "holdout negatives / frauds",
            f"{_fmt(point.get('negatives'))} / {_fmt(point.get('positives'))}",
        ),
    ]
    return [
        "<h2>Decision threshold (challenger)</h2><table>",
        *(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in rows),
        "</table>",
    ]


def render_html(comparison: Mapping[str, Any]) -> str:
    """The comparison as an HTML page (no external assets)."""
    e = html.escape
    chal, champ = _side(comparison, "challenger"), _side(comparison, "champion")
    title = (
        f"{comparison['model']}: challenger v{chal.get('version')} vs "
        f"{'champion v' + str(champ.get('version')) if champ else 'no champion'}"
    )
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{e(title)}</h1>",
        f"<p><b>Decision: {e(comparison['decision'])}</b> &mdash; {e(comparison['reason'])}</p>",
    ]
    hold = comparison.get("holdout", {})
    out.append(
        f"<p>Same holdout for both: {_fmt(hold.get('rows'))} rows, "
        f"{_fmt(hold.get('positives'))} frauds, {_fmt(hold.get('from'))} to "
        f"{_fmt(hold.get('to'))} ({_fmt(hold.get('uri'))}).</p>"
    )
    if hold.get("sampled") not in (None, "-"):
        out.append(
            "<p>The training window was over the spec's <code>model.max_training_rows</code>: "
            f"training set and holdout are its uniform sample, {_fmt(hold['sampled'])}.</p>"
        )
    out.append("<h2>Checks</h2><table><tr><th>check</th><th>verdict</th><th>detail</th></tr>")
    for check in comparison.get("checks", []):
        out.append(
            f"<tr><td>{e(check['name'])}</td><td>{_verdict(check['passed'])}</td>"
            f"<td style='text-align:left'>{e(check['detail'])}</td></tr>"
        )
    out.append(
        "</table><h2>Overall</h2><table><tr><th>metric</th><th>champion</th>"
        "<th>challenger</th></tr>"
    )
    c_over, h_over = champ.get("overall") or {}, chal.get("overall") or {}
    for name in (*METRICS, "rows", "positives"):
        out.append(
            f"<tr><td>{name}</td><td>{_fmt(c_over.get(name))}</td>"
            f"<td>{_fmt(h_over.get(name))}</td></tr>"
        )
    out.append("</table>")
    out.extend(_budget(comparison, champ, chal))
    out.extend(_threshold(chal.get("operating_point")))
    metric = comparison.get("slice_metric", "")
    for attr, rows in (chal.get("slices") or {}).items():
        champ_rows = {r["slice"]: r for r in (champ.get("slices") or {}).get(attr, [])}
        out.append(
            f"<h2>Slices of {e(attr)} ({e(metric)}; max gap "
            f"{_fmt(comparison.get('max_slice_gap'))}, judged from "
            f"{_fmt(comparison.get('min_slice_rows'))} rows)</h2><table><tr><th>slice</th>"
            "<th>rows</th><th>frauds</th><th>champion</th><th>challenger</th>"
            "<th>challenger gap</th><th>verdict</th></tr>"
        )
        for row in rows:
            other = champ_rows.get(row["slice"], {})
            out.append(
                f"<tr><td>{e(row['slice'])}</td><td>{row['rows']}</td>"
                f"<td>{row['positives']}</td><td>{_fmt(other.get(metric))}</td>"
                f"<td>{_fmt(row.get(metric))}</td><td>{_fmt(row.get('gap'))}</td>"
                f"<td>{_verdict(row.get('passed'))}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
