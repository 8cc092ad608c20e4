"""Find, read and type a landed batch.

A batch of feed ``F`` for day ``D`` is every file under ``<landing>/F/<D>/`` (one or more
CSV parts). Reading keeps the raw text (``dtype=str``) so type errors stay visible to the
validation instead of being silently coerced; :func:`coerce` then builds the typed frame
the content checks and the validated zone use.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import asdict, dataclass
from datetime import date, datetime

import pandas as pd

from include import layout, storage
from include.spec import FeedSpec


@dataclass(frozen=True)
class BatchFile:
    uri: str
    size: int
    sha256: str
    columns: tuple[str, ...]
    rows: int
    error: str | None = None
    # Why the file looks cut off (its last line incomplete), else None.
    truncated: str | None = None
    # When it landed (the store's modification time), where the store says.
    modified: datetime | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RawBatch:
    """The raw text of a batch plus what was learnt while reading each file."""

    feed: str
    day: date
    files: list[BatchFile]
    frame: pd.DataFrame  # every cell is str or None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def arrived(self) -> datetime | None:
        """When the batch was complete: its newest file's landing time (None if unknown)."""
        times = [f.modified for f in self.files]
        return None if not times or None in times else max(times)  # type: ignore[type-var]


def batch_prefix(landing_uri: str, feed: str, day: date) -> str:
    return layout.landing_dir(landing_uri, feed, day)


def landed_days(landing_uri: str, feed: str) -> list[date]:
    """Days with at least one landed file of ``feed``, oldest first (one listing)."""
    root = storage.join(landing_uri, feed)
    days = set()
    for obj in storage.list_objects(root):
        if obj.name.startswith(".") or obj.name.endswith((".tmp", ".part")):
            continue
        folder = obj.uri[len(root) :].strip("/").split("/")[0]
        try:
            days.add(date.fromisoformat(folder))
        except ValueError:  # not a day folder (a README, a stray file)
            continue
    return sorted(days)


def list_batch_files(landing_uri: str, feed: str, day: date) -> list[storage.ObjectInfo]:
    """Landed files of the batch, ignoring hidden/temporary files of writers in progress."""
    return [
        o
        for o in storage.list_objects(batch_prefix(landing_uri, feed, day))
        if not o.name.startswith(".") and not o.name.endswith((".tmp", ".part"))
    ]


def _read_csv(data: bytes) -> tuple[pd.DataFrame, str | None]:
    if not data.strip():
        return pd.DataFrame(), None  # 0-byte file: no columns, no rows
    try:
        frame = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8"
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        return pd.DataFrame(), f"unreadable CSV: {exc}"
    return frame.astype(object).where(frame.notna(), None), None


def truncation(data: bytes) -> str | None:
    """How the file's last line is incomplete, if it is: a writer cut off mid-line leaves no
    final newline and fewer fields than the header (or an open quote). A complete last line
    without a newline is fine."""
    if not data.strip() or data.endswith((b"\n", b"\r")):
        return None
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(lines) < 2:
        return None
    header = next(csv.reader([lines[0]]), [])
    try:
        last = next(csv.reader([lines[-1]], strict=True), [])
    except csv.Error:
        return "ends mid-line, inside a quoted value"
    if len(last) < len(header):
        return f"ends mid-line (its last line has {len(last)} of {len(header)} fields)"
    return None


def read_batch(
    feed: str, day: date, files: list[storage.ObjectInfo], *, max_bytes: float | None = None
) -> RawBatch:
    """Read every file as text. Files over ``max_bytes`` in total are not loaded (A9)."""
    total = sum(f.size for f in files)
    too_big = max_bytes is not None and total > max_bytes
    infos: list[BatchFile] = []
    frames: list[pd.DataFrame] = []
    for obj in files:
        if too_big:
            infos.append(
                BatchFile(
                    obj.uri, obj.size, "", (), 0, "not loaded: batch too large", None, obj.modified
                )
            )
            continue
        data = storage.read_bytes(obj.uri)
        frame, error = _read_csv(data)
        infos.append(
            BatchFile(
                uri=obj.uri,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                columns=tuple(frame.columns),
                rows=len(frame),
                error=error,
                truncated=truncation(data),
                modified=obj.modified,
            )
        )
        frames.append(frame)
    # Parts with different headers are reported by the delivery checks; the union keeps
    # every column so the schema check sees all of them.
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return RawBatch(feed=feed, day=day, files=infos, frame=frame)


def coerce(raw: pd.DataFrame, feed: FeedSpec) -> pd.DataFrame:
    """Typed copy of ``raw``: declared columns get their spec type, unparseable cells become
    null (the raw-stage type checks have already rejected a batch with such cells), unknown
    columns are kept as text."""
    out = pd.DataFrame(index=raw.index)
    for name in raw.columns:
        col = raw[name]
        try:
            spec = feed.column(name)
        except KeyError:
            out[name] = col
            continue
        if spec.dtype == "int":
            num = pd.to_numeric(col, errors="coerce")
            out[name] = num.where(num % 1 == 0).astype("Int64")
        elif spec.dtype == "float":
            out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif spec.dtype == "timestamp":
            out[name] = pd.to_datetime(col, utc=True, errors="coerce", format="ISO8601")
        else:
            out[name] = col.astype("string")
    return out
