"""Install the console's front-end assets from npm: ``python -m include.console.vendor``.

Run at install time (the Makefile's venv targets), never by the api-server. For each package
of ``assets.lock.json`` it downloads the registry tarball, checks its sha512 against the
lock's ``integrity`` (a mismatch stops everything, nothing is written), and extracts only the
listed files (plus ``package.json`` and license files) into
``<assets_dir>/<name>@<version>/``. A package already installed with the same integrity
(``.integrity`` stamp) is skipped, so re-running is cheap; a stale version folder of another
version is left alone (each lives under its own name). ``LICENSES.md`` lists them all.

Options: ``--dest DIR`` (default :func:`include.console.assets.assets_dir`), ``--check``
(verify what is installed, download nothing; exit 1 when something is missing).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from include.console.assets import assets_dir, load_lock, package_dir_name

_STAMP = ".integrity"
_ALWAYS = ("package.json", "LICENSE*", "LICENCE*", "license*", "NOTICE*")


def tarball_url(registry: str, name: str, version: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return f"{registry.rstrip('/')}/{name}/-/{base}-{version}.tgz"


def verify(data: bytes, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise ValueError(f"unsupported integrity {integrity[:16]}…: expected sha512-…")
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != expected:
        raise ValueError(f"integrity mismatch: lock says sha512-{expected}, got sha512-{digest}")


def _wanted(path: str, patterns: list[str]) -> bool:
    top = "/" not in path
    return any(fnmatch.fnmatchcase(path, p) for p in patterns) or (
        top and any(fnmatch.fnmatchcase(path, p) for p in _ALWAYS)
    )


def extract(data: bytes, patterns: list[str], dest: Path) -> list[str]:
    """Write the tarball's files matching ``patterns`` below ``dest``; refuse odd members."""
    written = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2 or any(p in ("..", "") for p in parts) or member.name.startswith("/"):
                raise ValueError(f"unsafe member {member.name!r} in tarball")
            rel = "/".join(parts[1:])  # strip the "package/" folder
            if not _wanted(rel, patterns):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fh = tar.extractfile(member)
            assert fh is not None
            target.write_bytes(fh.read())
            written.append(rel)
    missing = [p for p in patterns if not any(fnmatch.fnmatchcase(w, p) for w in written)]
    if missing:
        raise ValueError(f"tarball has no file for {missing}")
    return written


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (https registry)
        return resp.read()


def install(
    dest: Path,
    *,
    lock: dict | None = None,
    check_only: bool = False,
    fetch: Callable[[str], bytes] = _download,
) -> list[str]:
    """Install every locked package into ``dest``; returns the names (re)installed."""
    lock = lock or load_lock()
    done, missing = [], []
    for pkg in lock["packages"]:
        folder = dest / package_dir_name(pkg)
        stamp = folder / _STAMP
        if stamp.is_file() and stamp.read_text().strip() == pkg["integrity"]:
            continue
        if check_only:
            missing.append(package_dir_name(pkg))
            continue
        url = pkg.get("tarball") or tarball_url(lock["registry"], pkg["name"], pkg["version"])
        data = fetch(url)
        verify(data, pkg["integrity"])
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            extract(data, pkg["files"], tmp)
            (tmp / _STAMP).write_text(pkg["integrity"] + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        done.append(package_dir_name(pkg))
    if missing:
        raise SystemExit(f"console assets missing or stale in {dest}: {', '.join(missing)}")
    _write_licenses(dest, lock)
    return done


def _write_licenses(dest: Path, lock: dict) -> None:
    lines = ["# Third-party assets of the operator console", ""]
    lines.append("| package | version | license | files |")
    lines.append("|---|---|---|---|")
    for pkg in lock["packages"]:
        folder = dest / package_dir_name(pkg)
        texts = sorted(p.name for p in folder.iterdir() if p.name.upper().startswith("LICEN"))
        where = ", ".join(texts) or "package.json (`license` field)"
        lines.append(f"| {pkg['name']} | {pkg['version']} | {pkg['license']} | {where} |")
    (dest / "LICENSES.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    dest = args.dest or assets_dir()
    done = install(dest, check_only=args.check)
    print(f"console assets in {dest}: {len(done)} installed, the rest already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
