"""HMAC-SHA-256 pseudonyms of PII values.

The same value gives the same pseudonym under one key, whatever its type in a file or a
request: an integer id 42, the text "42" and 42.0 are all the canonical text "42". A
pseudonym is the first 32 hex digits (128 bits) of the HMAC: joins stay exact (a collision
among a billion ids has odds below 1e-20) and the raw value can not be recovered without
the key.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

HEX_DIGITS = 32


def canonical(value: Any) -> str | None:
    """The text a value is hashed as; None for a missing value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return canonical(value.item())
    return str(value)


class Pseudonymiser:
    """Pseudonyms under one key (:func:`include.privacy.keys.load_key`)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:  # never the key
        return "Pseudonymiser(<key>)"

    def value(self, value: Any) -> str | None:
        text = canonical(value)
        if text is None:
            return None
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:HEX_DIGITS]

    def series(self, values: pd.Series) -> pd.Series:
        """Each value's pseudonym (missing stays missing), as a string column."""
        uniques = pd.unique(values.dropna())
        mapping = {u: self.value(u) for u in uniques}
        return values.map(mapping).astype("string")

    def frame(self, frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` (those present) pseudonymised."""
        present = [c for c in columns if c in frame.columns]
        if not present:
            return frame
        out = frame.copy()
        for column in present:
            out[column] = self.series(out[column])
        return out

    def row(self, row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
        out = dict(row)
        for column in columns:
            if column in out:
                out[column] = self.value(out[column])
        return out


def is_pseudonym(value: Any) -> bool:
    """Looks like a pseudonym (32 lowercase hex digits)."""
    return (
        isinstance(value, str)
        and len(value) == HEX_DIGITS
        and all(ch in "0123456789abcdef" for ch in value)
    )


def for_platform(lake_uri: str) -> Pseudonymiser:
    """The platform's pseudonymiser: its key (created once), checked against the lake's."""
    from include.privacy import keys

    key = keys.load_key()
    keys.check_lake_key(lake_uri, key)
    return Pseudonymiser(key)
