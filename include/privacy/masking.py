"""What people read shows pseudonyms, never raw PII: validation reports kept in the lake,
mails, task logs.

A validation's rule suites run on the raw batch (the spec's rules are about raw values),
so their samples of failing values can hold raw ids; its history suite runs on pseudonyms.
:func:`mask_report` rewrites a report for the lake and the mails: a pii column's sample
values and observations become pseudonyms, its GX results keep their counts only, and,
when the feed's key is pii, so do the row keys listed. The unmasked report stays with the
raw files in quarantine (admins only, then deleted).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from include.privacy.pseudonym import Pseudonymiser

NOTE = "pii: values pseudonymised (raw ones only in the quarantine evidence)"
_KEYED_LISTS = ("unexpected_index_list", "partial_unexpected_index_list")


def _values(value: Any, pseudo: Pseudonymiser) -> Any:
    if isinstance(value, list | tuple):
        return [_values(v, pseudo) for v in value]
    if isinstance(value, dict):
        return {k: _values(v, pseudo) for k, v in value.items()}
    return pseudo.value(value)


def _counts(result: dict[str, Any]) -> dict[str, Any]:
    """A GX result's numbers only (element, unexpected and missing counts and percents)."""
    kept = {
        k: v
        for k, v in result.items()
        if isinstance(v, int | float) and k.endswith(("count", "percent", "nonmissing", "total"))
    }
    kept["note"] = NOTE
    return kept


def _keyed_rows(rows: Any, pii: set[str], pseudo: Pseudonymiser) -> Any:
    if not isinstance(rows, list):
        return rows
    return [
        {k: pseudo.value(v) if k in pii else v for k, v in r.items()} if isinstance(r, dict) else r
        for r in rows
    ]


def mask_gx(described: dict[str, Any], pii: set[str], key: str, pseudo: Pseudonymiser) -> None:
    """Mask one GX validation result (``describe_dict``) in place."""
    for exp in described.get("expectations") or []:
        result = exp.get("result")
        if not isinstance(result, dict):
            continue
        if (exp.get("kwargs") or {}).get("column") in pii:
            exp["result"] = _counts(result)
            continue
        for name in _KEYED_LISTS:
            if name in result:
                result[name] = _keyed_rows(result[name], pii, pseudo)
        if key in pii:
            result.pop("unexpected_index_query", None)


def mask_report(
    report: dict[str, Any], pii: Iterable[str], key: str, pseudo: Pseudonymiser
) -> dict[str, Any]:
    """A copy of a validation report (``ValidationReport.to_dict``) safe to keep in the
    lake and to mail: the raw values of ``pii`` columns replaced by their pseudonyms."""
    pii = set(pii)
    out = copy.deepcopy(report)
    if not pii:
        return out
    # The history stage ran on the pseudonymised frame: its values are pseudonyms already.
    for check in out.get("checks") or []:
        if check.get("stage") == "history":
            continue
        if check.get("column") in pii:
            check["pii"] = True  # what people read says its values are pseudonyms
            check["sample_values"] = _values(check.get("sample_values") or [], pseudo)
            if check.get("observed") is not None:
                check["observed"] = _values(check["observed"], pseudo)
        if key in pii:
            check["sample_keys"] = _values(check.get("sample_keys") or [], pseudo)
    for stage, described in (out.get("gx_results") or {}).items():
        if stage != "history" and isinstance(described, dict):
            mask_gx(described, pii, key, pseudo)
    out["pii_masked"] = sorted(pii)
    return out
