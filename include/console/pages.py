"""Plain server-rendered HTML for the console: one small inline stylesheet, no external asset,
every value escaped (:func:`esc`); links are built here from trusted routes plus quoted parts.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from include.console.links import CONSOLE_PREFIX, usecase_path

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;
background:#fff}
header{background:#017cee;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:14px;
text-decoration:none;font-weight:600}main{padding:12px 16px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 14px}th,td{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.num{text-align:right}
.muted{color:#57606a}.tag{display:inline-block;border-radius:8px;padding:0 6px;background:#eef;
font-size:12px}.tag.champion,.tag.serving{background:#d1f5d3}.tag.retired{background:#eee}
.tag.challenger{background:#fff3c4}.missing{background:#fff3c4;padding:8px;border:1px solid #e3c75a}
.error{background:#ffebe9;padding:8px;border:1px solid #ff8182}code{font-size:12px}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}th{background:#161b22}
th,td{border-color:#30363d}a{color:#58a6ff}.muted{color:#8b949e}}
"""
_NAV = (
    ("Inventory", "inventory"),
    ("Lineage", "lineage"),
    ("Deployments", "deployments"),
    ("Reports", "lake/reports/"),
    ("Quarantine", "quarantine"),
)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def href(url: str) -> str:
    """An escaped link target; anything but http(s), a path or a fragment becomes ``#``."""
    scheme = urlsplit(str(url)).scheme.lower()
    return esc(url) if scheme in ("", "http", "https") else "#"


def link(text: Any, url: str | None) -> str:
    return f'<a href="{href(url)}">{esc(text)}</a>' if url else esc(text)


def route(path: str) -> str:
    """A console route of the current use case as a path on the UI's origin (pages are
    served there; several use cases: each its own, include.console.links.usecase_path)."""
    return f"{CONSOLE_PREFIX}/{usecase_path(path)}"


def _usecase_nav() -> tuple[str, str]:
    """With several use cases: the one shown (for the title) and links to the others'
    console (the same page kind is not assumed to exist there: their home)."""
    from include.config import current_usecase, usecases

    every, uc = usecases(), current_usecase()
    if not uc.scoped:
        return "", ""
    others = "".join(
        f'<a href="{esc(CONSOLE_PREFIX)}/uc/{esc(o.name)}/">{esc(o.name)}</a>'
        for o in every
        if o.name != uc.name
    )
    return uc.name, f'<span style="float:right">use case <b>{esc(uc.name)}</b> · {others}</span>'


def page(title: str, body: str) -> str:
    usecase, switch = _usecase_nav()
    title = f"{title} · {usecase}" if usecase else title
    nav = switch + "".join(f'<a href="{esc(route(p))}">{esc(t)}</a>' for t, p in _NAV)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)} · MLOps console</title><style>{_CSS}</style></head>"
        f"<body><header>{nav}</header><main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of already-rendered cells (escape them with :func:`esc` or :func:`link`)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>" if body else '<p class="muted">None.</p>'


def fields(values: Mapping[str, Any]) -> str:
    """A two-column table of key -> value (values that are not text shown as JSON)."""
    return table(("field", "value"), ((esc(k), esc(plain(v))) for k, v in values.items()))


def plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def message(kind: str, text: str) -> str:
    return f'<p class="{esc(kind)}">{esc(text)}</p>'
