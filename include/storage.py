"""Object storage the same way for local paths and ``s3://`` URIs.

Local writes are atomic (temporary file in the same folder, then ``os.replace``) so a
killed task never leaves a partial file; an S3 ``put_object`` is atomic by itself.
S3 goes through boto3 with the standard ``AWS_*`` credentials and, for MinIO or a test
server, ``MLOPS_S3_ENDPOINT_URL``.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def join(base: str, *parts: str) -> str:
    """Join URI/path segments with '/', refusing segments that climb out of ``base``."""
    out = base.rstrip("/")
    for part in parts:
        for seg in str(part).split("/"):
            if seg in ("", "."):
                continue
            if seg == ".." or "\\" in seg or seg.startswith("~"):
                raise ValueError(f"unsafe path segment {seg!r} in {part!r}")
            out = f"{out}/{seg}"
    return out


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def s3_client() -> Any:
    return _s3_client(os.environ.get("MLOPS_S3_ENDPOINT_URL") or None)


@functools.lru_cache(maxsize=4)
def _s3_client(endpoint_url: str | None) -> Any:
    # boto3 clients are thread-safe and costly to build (~50 ms): one per endpoint.
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url)


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    # When the object was last written (UTC), where the store says: when a batch landed.
    modified: datetime | None = None

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


def _local_info(path: Path) -> ObjectInfo:
    stat = path.stat()
    return ObjectInfo(str(path), stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def list_objects(prefix: str) -> list[ObjectInfo]:
    """Files directly or indirectly under ``prefix`` (a folder), sorted by URI."""
    if is_s3(prefix):
        bucket, key = _split_s3(prefix)
        key = key.rstrip("/") + "/" if key else ""
        out: list[ObjectInfo] = []
        for page in (
            s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        ):
            for obj in page.get("Contents", []):
                out.append(
                    ObjectInfo(
                        f"s3://{bucket}/{obj['Key']}", int(obj["Size"]), obj.get("LastModified")
                    )
                )
        return sorted(out, key=lambda o: o.uri)
    root = Path(prefix)
    if not root.is_dir():
        return []
    return sorted(
        (_local_info(p) for p in root.rglob("*") if p.is_file()),
        key=lambda o: o.uri,
    )


def exists(uri: str) -> bool:
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        try:
            s3_client().head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:  # botocore ClientError 404
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
    return Path(uri).is_file()


def read_bytes(uri: str) -> bytes:
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(uri).read_bytes()


def read_tail(uri: str, nbytes: int) -> bytes:
    """The last ``nbytes`` of an object (all of it when smaller): a Parquet footer without
    the data before it (a ranged GET on S3)."""
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        body = s3_client().get_object(Bucket=bucket, Key=key, Range=f"bytes=-{nbytes}")["Body"]
        return body.read()
    with Path(uri).open("rb") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - nbytes))
        return fh.read()


def write_bytes(uri: str, data: bytes) -> None:
    """Write atomically: readers see the old object or the new one, never a part."""
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def delete(uri: str) -> None:
    if is_s3(uri):
        bucket, key = _split_s3(uri)
        s3_client().delete_object(Bucket=bucket, Key=key)
    else:
        Path(uri).unlink(missing_ok=True)


def copy(src: str, dst: str) -> None:
    if not is_s3(src) and not is_s3(dst):
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{Path(dst).name}.", suffix=".tmp", dir=Path(dst).parent
        )
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        return
    write_bytes(dst, read_bytes(src))


def move(src: str, dst: str) -> None:
    """Copy then delete, so a crash in between leaves both copies, never none."""
    copy(src, dst)
    delete(src)


def copy_tree(src_prefix: str | Path, dst_prefix: str) -> list[str]:
    """Copy every file under ``src_prefix`` to the same relative place under ``dst_prefix``
    (either side local or S3); returns the written URIs."""
    src_prefix = str(src_prefix).rstrip("/")
    written = []
    for obj in list_objects(src_prefix):
        target = join(dst_prefix, obj.uri[len(src_prefix) :].lstrip("/"))
        copy(obj.uri, target)
        written.append(target)
    return written
