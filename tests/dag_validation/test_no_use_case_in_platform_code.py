"""A use case is a spec: no use case's name, feed, column, entity or view appears in the
platform's code (``include/``, ``serving/``, ``dags/``, ``feature_repo/``).

Given every spec under ``usecase/``, when the platform's Python code is searched for each word
the specs define, then none is found, except the words the platform itself defines
(:data:`PLATFORM_WORDS`, each with its reason). Searched: every string literal (a hard-coded
column is a string: ``"amount"``, or part of one: ``f"{x} amount"``), whole word, and every
identifier that is a multi-word name (``customer_id``, ``is_fraud``). Not searched: comments,
docstrings, and one-word identifiers (``route``, ``origin`` are ordinary English in code).
Where a word is still there on purpose for now, :data:`NOT_YET` lists it with its files, so
that the list can only shrink.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from include.spec import AGGREGATIONS, REQUEST_TRANSFORMS, load_spec
from tests.conftest import ROOT

PLATFORM = ("include", "serving", "dags", "feature_repo")
SPECS = sorted((ROOT / "usecase").glob("*.yaml"))
# Words a spec may share with the platform, because the platform defines them itself.
PLATFORM_WORDS = {
    # Feast's default timestamp column: the platform names its feature tables' stamp so.
    "event_timestamp": "Feast's entity timestamp column (include.features.schema.TIMESTAMP)",
    # Feed roles and the spec's own vocabulary.
    "labels": "the role of a use case's outcome feed (include.spec.LABELS)",
    "events": "the role of the scored feed (include.spec.EVENTS)",
    # The names of the aggregations and request-time transforms a spec chooses from.
    **{w: "an aggregation of the spec's vocabulary" for w in AGGREGATIONS},
    **{w: "a request-time transform of the spec's vocabulary" for w in REQUEST_TRANSFORMS},
}
# Words of the fraud use case the platform's public surface still carries, with the files
# they are in: the scoring API's request and response fields, renamed with the API per use
# case (one route per use case). Nothing may be added here.
NOT_YET = {
    "transactions": {
        "serving/contract.py",
        "serving/service.py",
        "include/deployment/checks.py",
        "include/deployment/switch.py",
    },
    "transaction_id": {
        "serving/contract.py",
        "serving/service.py",
        "include/deployment/checks.py",
        "include/lineage/query.py",
        "include/lineage/__init__.py",
        "include/lineage/__main__.py",
        "include/console/app.py",
        "include/console/views.py",
        "include/console/links.py",
        "include/monitoring/window.py",
    },
}


def _words(spec_path: Path) -> set[str]:
    """The use case's own words: its name, projects, feeds, columns, entities, views,
    features, model name and the adapter's module."""
    spec = load_spec(spec_path)
    words = {spec.name, spec.features.project, spec.features.feature_service}
    words |= {spec.model.registered_name, spec.model.target}
    for name, feed in spec.feeds.items():
        words |= {name, *feed.columns}
    for name, entity in spec.features.entities.items():
        words |= {name, entity.join_key, entity.view}
        words |= {a.feature(w) for a in entity.aggregations for w in a.windows}
    if spec.features.request:
        words.add(spec.features.request.view)
        words |= {t.name for t in spec.features.request.transforms}
    return {w for w in words if w not in PLATFORM_WORDS}


@cache
def _code(path: Path) -> tuple[tuple[str, ...], frozenset[str]]:
    """The file's string literals (docstrings left out) and its identifiers."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    strings, names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                strings.append(node.value)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return tuple(strings), frozenset(names)


def _files() -> list[Path]:
    return sorted(p for folder in PLATFORM for p in (ROOT / folder).rglob("*.py"))


def _hits(word: str) -> set[str]:
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])")
    found = set()
    for path in _files():
        strings, names = _code(path)
        if any(pattern.search(s) for s in strings) or ("_" in word and word in names):
            found.add(path.relative_to(ROOT).as_posix())
    return found


def test_there_are_several_specs_to_check() -> None:
    assert len(SPECS) >= 2, SPECS


@pytest.mark.parametrize("spec_path", SPECS, ids=[p.stem for p in SPECS])
def test_no_word_of_a_use_case_is_in_platform_code(spec_path: Path) -> None:
    found = {word: _hits(word) for word in sorted(_words(spec_path))}
    unexpected = {
        word: sorted(files - NOT_YET.get(word, set()))
        for word, files in found.items()
        if files - NOT_YET.get(word, set())
    }
    assert not unexpected, (
        f"{spec_path.name}'s words in platform code (name them through the spec): {unexpected}"
    )


def test_the_list_of_words_not_yet_moved_only_shrinks() -> None:
    """Every exception still holds: a word fixed in a file must leave NOT_YET."""
    stale = {
        word: sorted(files - _hits(word)) for word, files in NOT_YET.items() if files - _hits(word)
    }
    assert not stale, f"remove these from NOT_YET, they are gone: {stale}"
