"""Search a platform's files for raw personal ids, reading each file as what it is.

A raw id can hide where a byte search misses it: in a compressed Parquet column, a zip
(an MLflow model, a Bento), a gzip. Parquet files are read column by column, archives are
opened, everything else (JSON, HTML, logs, mails, SQLite stores, protobuf registries) is
searched as bytes. Each id is found as a whole token (``cus_00042`` is not in
``cus_000421``).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path


class _Matcher:
    """Finds whole-token occurrences of the ids: through their common prefix when they
    share one (fast on large files), else through an alternation."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = {i.encode() for i in ids}
        prefix = os.path.commonprefix(sorted(self.ids)) if self.ids else b""
        body = (
            re.escape(prefix) + rb"[A-Za-z0-9_]*"
            if len(prefix) >= 3
            else b"|".join(re.escape(i) for i in sorted(self.ids, key=len, reverse=True))
        )
        self.pattern = re.compile(rb"(?<![A-Za-z0-9_])(?:" + body + rb")(?![A-Za-z0-9_])")

    def find(self, content: bytes) -> set[str]:
        return {m.group().decode() for m in self.pattern.finditer(content) if m.group() in self.ids}


def _parquet_text(data: bytes) -> bytes:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    parts = [str(table.schema).encode()]
    for column in table.columns:
        parts.extend(str(v).encode() for v in column.to_pylist())
    return b"\n".join(parts)


def _contents(name: str, data: bytes, depth: int = 0) -> Iterable[tuple[str, bytes]]:
    """(where, bytes) of a file and of what it holds (archives opened, Parquet decoded)."""
    yield name, data
    if depth > 2:
        return
    if data[:4] == b"PAR1":
        yield f"{name} (decoded)", _parquet_text(data)
    elif data[:2] == b"\x1f\x8b":
        try:
            yield from _contents(f"{name} (gunzipped)", gzip.decompress(data), depth + 1)
        except (OSError, EOFError):
            pass
    elif data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    inner = archive.read(member)
                    yield from _contents(f"{name}!{member}", inner, depth + 1)
        except zipfile.BadZipFile:
            pass


def find_raw_ids(
    roots: Iterable[Path], ids: Iterable[str], skip: Iterable[Path] = ()
) -> dict[str, list[str]]:
    """Every place under ``roots`` (but not under ``skip``) where one of ``ids`` appears:
    ``{place: [ids found there (first 5)]}``; empty when none does."""
    matcher = _Matcher(ids)
    skipped = [Path(s).resolve() for s in skip]
    found: dict[str, list[str]] = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            resolved = path.resolve()
            if not path.is_file() or any(resolved.is_relative_to(s) for s in skipped):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # a socket or a file removed meanwhile
            for where, content in _contents(str(path), data):
                hits = sorted(matcher.find(content))
                if hits:
                    found[where] = hits[:5]
    return found


def searched_files(roots: Iterable[Path], skip: Iterable[Path] = ()) -> int:
    """How many files :func:`find_raw_ids` reads (a search of nothing proves nothing)."""
    skipped = [Path(s).resolve() for s in skip]
    return sum(
        1
        for root in roots
        for p in Path(root).rglob("*")
        if p.is_file() and not any(p.resolve().is_relative_to(s) for s in skipped)
    )
