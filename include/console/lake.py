"""Which lake files the console may serve, and reading them (fault model E5: no climbing out).

A request names a path *relative to the lake root* (``MLOPS_LAKE_URI``, local or ``s3://``).
:func:`resolve` accepts it only when every segment is a plain name (letters, digits and
``._=+@,-``), nothing climbs (``..``, ``.``, ``~``), nothing is absolute, escaped or
double-encoded (a ``%`` left after the server decoded the URL once), no backslash or NUL, and
the first segment is a served area (:data:`include.console.links.SERVED_AREAS`). Anything else
is :class:`Refused` before any storage call. For a local lake the resolved real path (symlinks
followed) must also stay inside the area's real folder, so a symlink planted in the lake
cannot expose ``/etc``. Names are checked, never repaired: a link must point where it says.

Quarantine evidence (:func:`is_evidence`) is served to admins only (include/console/app.py):
inside a quarantined batch's folder, every file but its summary and decision
(:data:`include.quality.retention.KEPT`) and every sub-folder. The raw files, the unmasked
validation result and its Data Docs hold raw personal data when the feed has pii columns;
the rule holds for every feed (simpler, and what a later version adds there is covered).
"""

from __future__ import annotations

import mimetypes
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from include import layout, storage
from include.console.links import SERVED_AREAS
from include.quality.retention import KEPT

_SEGMENT = re.compile(r"[A-Za-z0-9._=+@,-]+")
_MAX_DEPTH = 24
# Text types a browser should show inline; everything else it gets as its real type.
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "text/plain; charset=utf-8",
    ".csv": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}
DOWNLOAD_TYPE = "application/octet-stream"
# A quarantined batch's folder, relative to the lake: quarantine/<feed>/<day>/<run> (layout's).
_BATCH = tuple(layout.quarantine_dir("", "feed", date.min, "run").strip("/").split("/"))
QUARANTINE_AREA, _BATCH_DEPTH = _BATCH[0], len(_BATCH)


class Refused(ValueError):
    """A requested path the console will not serve (unsafe or outside the served areas)."""


@dataclass(frozen=True)
class Target:
    """A checked request: its parts relative to the lake root and its storage location."""

    parts: tuple[str, ...]
    uri: str
    # Local lake only: the real (symlink-free) folder of the area the path must stay in.
    area_root: str | None = None

    @property
    def relative(self) -> str:
        return "/".join(self.parts)

    @property
    def area(self) -> str:
        return self.parts[0]


def check_segments(path: str) -> tuple[str, ...]:
    """The segments of ``path`` (one trailing ``/`` allowed), or :class:`Refused`."""
    if not isinstance(path, str) or not path:
        raise Refused("empty path")
    if any(c in path for c in ("\x00", "\\", "%")) or path.startswith(("/", "~")):
        raise Refused("absolute, escaped or double-encoded path")
    parts = tuple(path[:-1].split("/") if path.endswith("/") else path.split("/"))
    if len(parts) > _MAX_DEPTH:
        raise Refused("path too deep")
    for seg in parts:
        if seg in ("", ".", "..") or not _SEGMENT.fullmatch(seg) or set(seg) == {"."}:
            raise Refused(f"unsafe path segment {seg!r}")
    return parts


def check_relative(path: str) -> tuple[str, ...]:
    """:func:`check_segments`, and the first one must be a served area."""
    parts = check_segments(path)
    if parts[0] not in SERVED_AREAS:
        raise Refused(f"{parts[0]!r} is not a served area ({', '.join(SERVED_AREAS)})")
    return parts


def resolve(path: str, lake_uri: str) -> Target:
    """The storage location of a request path; :class:`Refused` when it is not served."""
    parts = check_relative(path)
    uri = storage.join(lake_uri, *parts)  # refuses climbing segments a second time
    if storage.is_s3(lake_uri):
        return Target(parts=parts, uri=uri)
    area_root = os.path.realpath(os.path.join(lake_uri, parts[0]))
    if not _inside(os.path.realpath(uri), area_root):
        raise Refused("the path leaves its area (symlink)")
    return Target(parts=parts, uri=uri, area_root=area_root)


def is_evidence(parts: tuple[str, ...], *, folder: bool) -> bool:
    """Whether a checked path is quarantine evidence (admins only; module docstring)."""
    if not parts or parts[0] != QUARANTINE_AREA:
        return False
    if folder:  # the area's, a feed's, a day's and a batch's folders list names only
        return len(parts) > _BATCH_DEPTH
    return not (len(parts) == _BATCH_DEPTH + 1 and parts[-1] in KEPT)


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root + os.sep)


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or DOWNLOAD_TYPE


@dataclass(frozen=True)
class Entry:
    """One row of a folder listing: a file or a sub-folder (``size`` None)."""

    name: str
    size: int | None

    @property
    def is_dir(self) -> bool:
        return self.size is None


def is_file(target: Target) -> bool:
    if storage.is_s3(target.uri):
        return storage.exists(target.uri)
    return os.path.isfile(target.uri)


def list_folder(target: Target) -> list[Entry] | None:
    """The folder's direct children (sub-folders first), or ``None`` when it is no folder.

    Local: symlinked children that leave the area are left out of the listing too.
    """
    if not storage.is_s3(target.uri):
        folder = Path(target.uri)
        if not folder.is_dir():
            return None
        out = []
        for child in folder.iterdir():
            if not _inside(os.path.realpath(child), target.area_root or ""):
                continue
            if not _SEGMENT.fullmatch(child.name) or child.name.startswith("."):
                continue
            out.append(Entry(child.name, None if child.is_dir() else child.stat().st_size))
        return sorted(out, key=lambda e: (not e.is_dir, e.name))
    prefix = target.uri.rstrip("/") + "/"
    objects = storage.list_objects(target.uri)
    if not objects:
        return None
    files: dict[str, Entry] = {}
    for obj in objects:
        rest = obj.uri[len(prefix) :]
        head, sep, _ = rest.partition("/")
        if not _SEGMENT.fullmatch(head) or head.startswith("."):
            continue
        files.setdefault(head, Entry(head, None if sep else obj.size))
    return sorted(files.values(), key=lambda e: (not e.is_dir, e.name))


def read(target: Target) -> bytes:
    return storage.read_bytes(target.uri)
