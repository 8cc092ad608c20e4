"""The deployment pointer: which model version the stable scoring service should serve.

A small JSON file (``MLOPS_SERVING_POINTER``, default ``<data_root>/serving/deployment.json``;
with several use cases ``<data_root>/serving/<use case>/deployment.json``)::

    {"model_tag": "fraud_is_fraud:v7", "version": "7", "bento_tag": "fraud_service:v7",
     "deployed_at": "2026-12-01T10:00:00+00:00", "dag_run_id": "manual__...",
     "previous": {...the pointer this one replaced, without its own "previous"...}}

The deployment writes it (atomically: a reader sees the old pointer or the new one, never
a part); the service polls it and loads the named model beside the active one before it
swaps (``serving.service``). ``previous`` is what a rollback points back to.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import storage

POINTER_ENV = "MLOPS_SERVING_POINTER"


class PointerInvalid(ValueError):
    """The pointer file exists but is not a pointer; the message names the file and field."""


@dataclass(frozen=True)
class Pointer:
    model_tag: str  # BentoML model tag, "<registered name>:v<version>"
    version: str  # the registered model version
    bento_tag: str | None = None
    deployed_at: str = ""  # ISO 8601, UTC
    dag_run_id: str | None = None
    previous: dict[str, Any] | None = None  # the replaced pointer (one level deep)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pointer_path() -> Path:
    configured = os.environ.get(POINTER_ENV, "").strip()
    if configured:
        return Path(configured)
    from include.config import get_settings

    return get_settings().serving_dir / "deployment.json"


def parse(raw: bytes | str, where: str = "pointer") -> Pointer:
    """A pointer from its JSON text; :class:`PointerInvalid` says what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PointerInvalid(f"{where} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PointerInvalid(f"{where} must hold a JSON object, got {type(data).__name__}")
    for key in ("model_tag", "version"):
        if not isinstance(data.get(key), str | int) or not str(data[key]).strip():
            raise PointerInvalid(f"{where}: {key!r} is missing or empty")
    previous = data.get("previous")
    if previous is not None and not isinstance(previous, dict):
        raise PointerInvalid(f"{where}: 'previous' must be an object or null")
    return Pointer(
        model_tag=str(data["model_tag"]),
        version=str(data["version"]),
        bento_tag=data.get("bento_tag") or None,
        deployed_at=str(data.get("deployed_at") or ""),
        dag_run_id=data.get("dag_run_id") or None,
        previous=previous,
    )


def read(path: Path | None = None) -> Pointer | None:
    """The current pointer, or None when nothing was deployed yet (no file)."""
    path = Path(path or pointer_path())
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return parse(raw, str(path))


def write(pointer: Pointer, path: Path | None = None) -> Path:
    """Replace the pointer atomically; returns the file written."""
    path = Path(path or pointer_path())
    data = json.dumps(pointer.as_dict(), indent=2, sort_keys=True).encode() + b"\n"
    storage.write_bytes(str(path), data)
    return path


def point_to(
    model_tag: str,
    version: str | int,
    *,
    bento_tag: str | None = None,
    dag_run_id: str | None = None,
    path: Path | None = None,
) -> Pointer:
    """Point the service at ``model_tag``, keeping the replaced pointer as ``previous``."""
    current = read(path)
    previous = None
    if current is not None:
        previous = {k: v for k, v in current.as_dict().items() if k != "previous"}
    pointer = Pointer(
        model_tag=model_tag,
        version=str(version),
        bento_tag=bento_tag,
        deployed_at=datetime.now(UTC).isoformat(),
        dag_run_id=dag_run_id,
        previous=previous,
    )
    write(pointer, path)
    return pointer
