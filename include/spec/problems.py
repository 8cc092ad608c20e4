"""Every problem of a spec file, in words that say where and what is allowed.

Two sources of problems, reported together so that one run shows them all:

* the structure, checked by pydantic against :mod:`include.spec.sections` (types, ranges,
  unknown keys): :func:`structural` rewords each of pydantic's errors with the dotted path
  of the key, and suggests the nearest valid key for a misspelt one ("did you mean
  `nullable`?");
* the references between sections (:mod:`include.spec.references`): a feature's column
  exists in its feed, a slice names a column, and so on.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from include.spec.sections import SET_BY_LOADER


@dataclass(frozen=True, order=True)
class Problem:
    """One problem: the dotted path of the key (``feeds.labels.columns.is_fraud.dtype``)
    and what is wrong with it."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class SpecError(ValueError):
    """The use-case spec is malformed; the message names the file and every problem."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def of(cls, path: Path, problems: list[Problem]) -> SpecError:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  {p}" for p in problems)
        if len(problems) == 1:
            return cls(f"{path}: {problems[0]}", problems)
        return cls(f"{path}: {count}:\n{lines}", problems)


def dotted(loc: Iterable[Any]) -> str:
    """``("feeds", "labels", "columns", 0)`` -> ``feeds.labels.columns[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ----------------------------------------------------------------------- the structure
def _unwrap(tp: Any) -> Any:
    """The class behind ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _type_at(root: type, loc: tuple[Any, ...]) -> Any:
    """The type the spec expects at ``loc`` (None where it can not be told)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp, include_extras=True)
            if part not in hints:
                return None
            tp = hints[part]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) in (tuple, list):
            tp = typing.get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)


def _keys(tp: Any) -> list[str]:
    """The keys a section accepts (those the loader sets are not written in files)."""
    if not dataclasses.is_dataclass(tp):
        return []
    loader = SET_BY_LOADER.get(tp.__name__, ())
    return [f.name for f in dataclasses.fields(tp) if f.name not in loader]


def _required(tp: Any) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(tp)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


# pydantic's words for a type, as a person writing YAML says them.
_PLAIN = (
    ("a valid integer", "a whole number"),
    ("a valid number", "a number"),
    ("a valid tuple", "a list"),
    ("a valid list", "a list"),
    ("a valid dictionary", "a mapping"),
    ("a valid string", "a string"),
    ("a valid boolean", "true or false"),
    ("a valid date", "a date (YYYY-MM-DD)"),
)


def structural(root: type, error: ValidationError) -> list[Problem]:
    """pydantic's errors as problems with the key's path and what is allowed."""
    problems: list[Problem] = []
    for e in error.errors(include_url=False):
        loc, kind, value = tuple(e["loc"]), e["type"], e.get("input")
        as_key = bool(loc) and loc[-1] == "[key]"  # pydantic's mark of a mapping's key
        loc = loc[:-1] if as_key else loc
        where = dotted(loc)
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            section = _type_at(root, loc[:-1])
            known = _keys(section)
            problems.append(
                Problem(
                    where,
                    f"unknown key{_did_you_mean(str(loc[-1]), known)}; "
                    f"known keys here: {', '.join(known)}",
                )
            )
        elif kind == "missing" or kind == "missing_keyword_argument":
            problems.append(Problem(where, "is missing"))
        elif kind in ("dataclass_type", "dataclass_args_type", "dict_type"):
            tp = _type_at(root, loc)
            if dataclasses.is_dataclass(tp):
                required = _required(tp)
                wanted = f"a mapping with {', '.join(required)}" if required else "a mapping"
            else:
                wanted = "a mapping"
            problems.append(Problem(where, f"expected {wanted}, got {_shown(value)}"))
        elif kind == "literal_error":
            allowed = e.get("ctx", {}).get("expected", "")
            choices = [c.strip(" '") for c in allowed.replace(" or ", ",").split(",")]
            hint = _did_you_mean(str(value), choices) if isinstance(value, str) else ""
            what = "is not a known key: it must" if as_key else "must"
            problems.append(
                Problem(where, f"{what} be one of {allowed}, got {_shown(value)}{hint}")
            )
        elif kind == "value_error":
            message = str(e.get("ctx", {}).get("error", e["msg"]))
            problems.append(Problem(where, message))
        else:
            message = e["msg"]
            if message.startswith("Input should be "):
                message = "must be " + message[len("Input should be ") :]
            for said, plain in _PLAIN:
                message = message.replace(said, plain)
            problems.append(Problem(where, f"{message}, got {_shown(value)}"))
    return problems
