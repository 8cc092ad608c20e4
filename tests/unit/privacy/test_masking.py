"""Reports kept in the lake and mailed show pseudonyms, never a pii column's raw values."""

from __future__ import annotations

import json

from include.privacy.masking import NOTE, mask_report
from include.privacy.pseudonym import Pseudonymiser

P = Pseudonymiser(bytes(range(32)))


def _report(key: str = "tx") -> dict:
    failing = {
        "name": "expect_column_values_to_match_regex(who)",
        "stage": "structure",
        "column": "who",
        "sample_keys": ["t1", "t2"],
        "sample_values": ["bad-1", "bad-2"],
        "observed": None,
    }
    other = {
        "name": "expect_column_values_to_be_between(amount)",
        "stage": "content",
        "column": "amount",
        "sample_keys": ["t3"],
        "sample_values": [-5.0],
    }
    history = {"name": "history.distinct_keys(who)", "stage": "history", "column": "who",
               "observed": 812, "sample_values": []}  # fmt: skip
    gx = {
        "expectations": [
            {
                "kwargs": {"column": "who", "regex": "^c_"},
                "result": {
                    "element_count": 20,
                    "unexpected_count": 2,
                    "unexpected_percent": 10.0,
                    "partial_unexpected_list": ["bad-1", "bad-2"],
                    "partial_unexpected_counts": [{"value": "bad-1", "count": 1}],
                    "unexpected_index_list": [{key: "t1", "who": "bad-1"}],
                },
            },
            {
                "kwargs": {"column": "amount"},
                "result": {
                    "partial_unexpected_list": [-5.0],
                    "unexpected_index_list": [{key: "t3", "amount": -5.0}],
                    "unexpected_index_query": "df.filter(items=[3], axis=0)",
                },
            },
        ]
    }
    return {"checks": [failing, other, history], "gx_results": {"structure": gx}}


def test_E7_a_pii_columns_failing_values_become_pseudonyms_everywhere_else_is_kept() -> None:
    report = _report()
    masked = mask_report(report, ["who"], "tx", P)
    text = json.dumps(masked)
    assert "bad-1" not in text and "bad-2" not in text
    pii, other, history = masked["checks"]
    assert pii["sample_values"] == [P.value("bad-1"), P.value("bad-2")]
    assert pii["sample_keys"] == ["t1", "t2"]  # the key is not pii: kept for the operator
    assert other == report["checks"][1] and history == report["checks"][2]
    regex, amount = masked["gx_results"]["structure"]["expectations"]
    assert regex["result"] == {
        "element_count": 20,
        "unexpected_count": 2,
        "unexpected_percent": 10.0,
        "note": NOTE,
    }
    assert amount["result"]["partial_unexpected_list"] == [-5.0]
    assert masked["pii_masked"] == ["who"]
    assert "bad-1" in json.dumps(report)  # the unmasked one (quarantine evidence) is untouched


def test_E7_a_pii_key_is_masked_in_every_listed_row_and_query() -> None:
    masked = mask_report(_report(key="who"), ["who"], "who", P)
    text = json.dumps(masked)
    assert "bad-1" not in text
    other = masked["checks"][1]
    assert other["sample_keys"] == [P.value("t3")]
    amount = masked["gx_results"]["structure"]["expectations"][1]["result"]
    assert amount["unexpected_index_list"] == [{"who": P.value("t3"), "amount": -5.0}]
    assert "unexpected_index_query" not in amount


def test_E7_without_pii_the_report_is_unchanged() -> None:
    assert mask_report(_report(), [], "tx", P) == _report()
