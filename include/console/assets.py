"""Reports that render with no internet: CDN addresses in served HTML/CSS become local ones.

GX 1.24 Data Docs load jQuery, Popper, Bootstrap, bootstrap-table, bootstrap-datepicker,
Font Awesome, a dark theme and Vega/Vega-Lite/Vega-Embed from public CDNs, and its logo from
an S3 bucket. ``assets.lock.json`` pins each of them (npm name, exact version, sha512
integrity, files, and the CDN addresses it stands for); ``python -m include.console.vendor``
installs them into :func:`assets_dir` at install time (``make`` does), never at run time.
The logos come from the installed GX package's own ``static/images``. Evidently 0.7.23
reports embed their JavaScript and icon font inline and need nothing.

:func:`rewrite` maps every known CDN address to ``/mlops/assets/<name>@<version>/<file>``;
GX's Subresource Integrity hashes stay and still match (the npm files are the CDN's bytes).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

from include.console.links import CONSOLE_PREFIX

LOCK_FILE = Path(__file__).with_name("assets.lock.json")
ASSETS_ROUTE = f"{CONSOLE_PREFIX}/assets"
GX_IMAGES = "gx-images"
_GX_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# Images GX links on its S3 bucket that its package does not ship: the nearest shipped one.
_GX_IMAGE_STAND_INS = {"full_logo_dark.png": "logo-long.png"}
_GX_IMAGE = re.compile(re.escape(_GX_WEB_ASSETS) + r"([A-Za-z0-9_.-]+)")


def assets_dir() -> Path:
    """Where the vendored packages live: ``MLOPS_CONSOLE_ASSETS_DIR``, else in the venv."""
    value = os.environ.get("MLOPS_CONSOLE_ASSETS_DIR", "").strip()
    return Path(value) if value else Path(sys.prefix) / "share" / "mlops-console-assets"


def load_lock(path: Path = LOCK_FILE) -> dict:
    return json.loads(path.read_text())


def package_dir_name(package: dict) -> str:
    """``<name>@<version>`` (scoped names keep their ``@scope/`` folder)."""
    return f"{package['name']}@{package['version']}"


@functools.cache
def cdn_map() -> dict[str, str]:
    """Every CDN address GX writes -> its path below :data:`ASSETS_ROUTE` (longest first)."""
    out = {}
    for package in load_lock()["packages"]:
        for url, file in package["urls"].items():
            out[url] = f"{package_dir_name(package)}/{file}"
    return dict(sorted(out.items(), key=lambda kv: -len(kv[0])))


def gx_images_dir() -> Path | None:
    """The installed GX package's ``render/view/static/images`` (found without importing GX)."""
    spec = importlib.util.find_spec("great_expectations")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "render/view/static/images"
    return folder if folder.is_dir() else None


def _gx_image(match: re.Match[str]) -> str:
    name = _GX_IMAGE_STAND_INS.get(match.group(1), match.group(1))
    return f"{ASSETS_ROUTE}/{GX_IMAGES}/{name}"


def rewrite(text: str) -> str:
    """``text`` (HTML or CSS) with every pinned CDN address replaced by its local copy."""
    for url, local in cdn_map().items():
        # A quote or ')' after the address: "…/vega@5" must not rewrite "…/vega@5.1".
        text = re.sub(re.escape(url) + r"(?=[\"')\s])", f"{ASSETS_ROUTE}/{local}", text)
    return _GX_IMAGE.sub(_gx_image, text)


# Loaded resources (not plain links to documentation) that point off the machine.
_EXTERNAL_LOAD = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?(https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//""",
    re.I,
)


def external_loads(text: str) -> list[str]:
    """Tags or CSS ``url()`` that would still fetch from the internet (for tests and checks).

    Only loaded resources count: ``<a href>`` links to documentation do not.
    """
    return [m.group(0) for m in _EXTERNAL_LOAD.finditer(text)]
