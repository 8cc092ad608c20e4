"""Reports render offline: CDN addresses become vendored files, installed from npm with a
checked sha512 at install time."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
from pathlib import Path

import pytest

from include.console import assets, vendor

FIXTURES = Path(__file__).with_name("fixtures") / "gx_data_docs"
GX_TEMPLATES = Path(__import__("importlib").util.find_spec("great_expectations").origin).parent / (
    "render/view/templates"
)


@pytest.mark.parametrize("name", ["index.html", "validation.html"])
def test_gx_data_docs_load_nothing_from_the_internet_after_rewrite(name: str) -> None:
    # given a Data Docs page GX 1.24 wrote (captured by tests/unit/console/fixtures)
    html = (FIXTURES / name).read_text()
    assert assets.external_loads(html), "the fixture should load from CDNs before rewriting"
    # when rewritten / then no script, stylesheet or image is fetched off the machine
    out = assets.rewrite(html)
    assert assets.external_loads(out) == []
    assert not re.search(r"<script[^>]+src=\"https?://", out)
    assert "/mlops/assets/jquery@3.7.1/dist/jquery.min.js" in out
    assert "/mlops/assets/gx-images/logo-long.png" in out


def test_every_cdn_address_in_the_installed_gx_templates_is_mapped() -> None:
    # A GX upgrade that adds a CDN asset fails here rather than in a browser without internet.
    found = set()
    for template in GX_TEMPLATES.rglob("*.j2"):
        for m in re.finditer(r"""(?:src|href)=["'](https?://[^"']+)["']""", template.read_text()):
            found.add(m.group(1))
    loaded = {
        u
        for u in found
        if not u.startswith(("https://greatexpectations.io", "https://docs.greatexpectations.io"))
    }
    assert loaded, "no CDN address found: did GX move its templates?"
    unmapped = sorted(u for u in loaded if u not in assets.cdn_map())
    assert unmapped == []


def test_gx_default_stylesheet_loads_nothing_external() -> None:
    css = (GX_TEMPLATES.parent / "static/styles/data_docs_default_styles.css").read_text()
    assert assets.external_loads(css)
    assert assets.external_loads(assets.rewrite(css)) == []


def test_rewrite_keeps_longer_addresses_and_documentation_links() -> None:
    text = (
        '<script src="https://cdn.jsdelivr.net/npm/vega@5.1.0/x.js"></script>'
        '<a href="https://docs.greatexpectations.io/docs">docs</a>'
    )
    assert assets.rewrite(text) == text


def test_vendored_files_are_installed_for_every_mapping() -> None:
    # `make` (the venv target) runs `python -m include.console.vendor`; this checks it did.
    root = assets.assets_dir()
    missing = [p for p in assets.cdn_map().values() if not (root / p).is_file()]
    assert missing == [], f"run `python -m include.console.vendor` (missing in {root})"
    assert (root / "LICENSES.md").is_file()
    fa = root / "@fortawesome/fontawesome-free@6.6.0"
    assert (fa / "webfonts/fa-solid-900.woff2").is_file()  # all.min.css loads ../webfonts/


def test_the_sri_hashes_gx_writes_match_the_vendored_files() -> None:
    # GX pins Popper and Bootstrap JS with integrity="sha384-…": the npm files are the same
    # bytes as the CDN's, so the browser's check passes on the local copies too.
    html = (FIXTURES / "validation.html").read_text()
    out = assets.rewrite(html)
    pairs = re.findall(r'<script src="/mlops/assets/([^"]+)" integrity="sha384-([^"]+)"', out)
    assert len(pairs) == 2
    for path, expected in pairs:
        data = (assets.assets_dir() / path).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == expected


def test_assets_are_served_with_their_type(client) -> None:
    r = client.get("/mlops/assets/jquery@3.7.1/dist/jquery.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    r = client.get("/mlops/assets/@fortawesome/fontawesome-free@6.6.0/webfonts/fa-solid-900.woff2")
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff2"
    r = client.get("/mlops/assets/gx-images/logo-long.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert client.get("/mlops/assets/jquery@3.7.1/.integrity").status_code == 404
    assert client.get("/mlops/assets/nope@1/x.js").status_code == 404


def test_a_served_report_is_rewritten(client, lake_root: Path) -> None:
    docs = lake_root / "reports/validation/t/2026-01-01/run/data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text((FIXTURES / "index.html").read_text())
    r = client.get("/mlops/lake/reports/validation/t/2026-01-01/run/data_docs/index.html")
    assert r.status_code == 200
    assert assets.external_loads(r.text) == []


# ----------------------------------------------------------------------------- vendor
def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _lock(data: bytes, integrity: str | None = None) -> dict:
    return {
        "registry": "https://registry.example",
        "packages": [
            {
                "name": "@scope/lib",
                "version": "1.2.3",
                "license": "MIT",
                "integrity": integrity or _integrity(data),
                "files": ["dist/lib.min.js"],
                "urls": {},
            }
        ],
    }


def test_vendor_installs_checked_files_once(tmp_path: Path) -> None:
    data = _tarball(
        {
            "package/dist/lib.min.js": b"js",
            "package/dist/lib.js": b"big",
            "package/LICENSE": b"L",
            "package/package.json": b"{}",
        }
    )
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return data

    assert vendor.install(tmp_path, lock=_lock(data), fetch=fetch) == ["@scope/lib@1.2.3"]
    assert calls == ["https://registry.example/@scope/lib/-/lib-1.2.3.tgz"]
    folder = tmp_path / "@scope/lib@1.2.3"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == [
        ".integrity",
        "LICENSE",
        "lib.min.js",
        "package.json",
    ]
    # again: nothing downloaded
    assert vendor.install(tmp_path, lock=_lock(data), fetch=fetch) == []
    assert len(calls) == 1
    vendor.install(tmp_path, lock=_lock(data), check_only=True)


def test_vendor_refuses_a_tarball_that_does_not_match_the_lock(tmp_path: Path) -> None:
    data = _tarball({"package/dist/lib.min.js": b"js"})
    tampered = _tarball({"package/dist/lib.min.js": b"evil"})
    with pytest.raises(ValueError, match="integrity mismatch"):
        vendor.install(tmp_path, lock=_lock(data), fetch=lambda url: tampered)
    assert not (tmp_path / "@scope/lib@1.2.3").exists()


def test_vendor_refuses_climbing_members(tmp_path: Path) -> None:
    data = _tarball({"package/../../evil.js": b"x", "package/dist/lib.min.js": b"js"})
    with pytest.raises(ValueError, match="unsafe member"):
        vendor.install(tmp_path, lock=_lock(data), fetch=lambda url: data)
    assert not (tmp_path.parent / "evil.js").exists()


def test_vendor_check_reports_missing(tmp_path: Path) -> None:
    data = _tarball({"package/dist/lib.min.js": b"js"})
    with pytest.raises(SystemExit, match="missing or stale"):
        vendor.install(tmp_path, lock=_lock(data), check_only=True)


def test_the_lock_pins_exact_versions_with_sha512() -> None:
    for pkg in assets.load_lock()["packages"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"]), pkg
        assert pkg["integrity"].startswith("sha512-"), pkg
        assert pkg["license"], pkg
