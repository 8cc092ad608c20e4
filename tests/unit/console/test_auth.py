"""Every console route needs an Airflow session or token; without one, 401/403 and no file."""

from __future__ import annotations

from pathlib import Path

import pytest

ROUTES = [
    "/mlops/",
    "/mlops/lake/",
    "/mlops/lake/reports/secret.html",
    "/mlops/lake/deployments/",
    "/mlops/assets/jquery@3.7.1/dist/jquery.min.js",
    "/mlops/deployments",
    "/mlops/api/deployments",
    "/mlops/inventory",
    "/mlops/api/inventory",
    "/mlops/lineage?prediction_id=p1",
    "/mlops/api/lineage?prediction_id=p1",
]


@pytest.fixture
def secret_report(lake_root: Path) -> Path:
    path = lake_root / "reports" / "secret.html"
    path.parent.mkdir(parents=True)
    path.write_text("<p>TOP-SECRET-REPORT</p>")
    return path


@pytest.mark.parametrize("route", ROUTES)
def test_no_credentials_is_401_and_no_content(anonymous, secret_report, route: str) -> None:
    # given no cookie and no Authorization header / when any console route is asked for
    r = anonymous.get(route)
    # then 401, and nothing of the lake in the answer
    assert r.status_code == 401, (route, r.status_code)
    assert "TOP-SECRET" not in r.text


@pytest.mark.parametrize("route", ["/mlops/", "/mlops/lake/reports/secret.html"])
def test_a_forged_or_garbage_token_is_refused(anonymous, secret_report, route: str) -> None:
    import jwt

    forged = jwt.encode({"sub": "admin", "role": "admin"}, "not-the-secret", algorithm="HS512")
    for headers, cookies in (
        ({"Authorization": "Bearer garbage"}, {}),
        ({"Authorization": f"Bearer {forged}"}, {}),
        ({}, {"_token": forged}),
    ):
        anonymous.cookies.clear()
        for k, v in cookies.items():
            anonymous.cookies.set(k, v)
        r = anonymous.get(route, headers=headers)
        assert r.status_code in (401, 403), (headers, cookies, r.status_code)
        assert "TOP-SECRET" not in r.text


def test_bearer_token_is_accepted(anonymous, token: str, secret_report) -> None:
    r = anonymous.get(
        "/mlops/lake/reports/secret.html", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert "TOP-SECRET-REPORT" in r.text


def test_session_cookie_is_accepted(client, secret_report) -> None:
    # The UI's iframes (external_views with url_route) are same-origin: the browser sends the
    # _token cookie that Airflow's login set with path "/", which is all the console needs.
    r = client.get("/mlops/lake/reports/secret.html")
    assert r.status_code == 200
    assert "TOP-SECRET-REPORT" in r.text


def test_browser_without_session_gets_a_sign_in_link(anonymous) -> None:
    r = anonymous.get("/mlops/inventory", headers={"Accept": "text/html"})
    assert r.status_code == 401
    assert "Sign in to Airflow" in r.text
    assert "/auth/login" in r.text or "/auth/token/login" in r.text


def test_login_cookie_is_scoped_to_reach_the_console() -> None:
    # The cookie Airflow sets at login is scoped to the UI's base path ("/" here), which
    # covers /mlops: a same-origin iframe of the UI sends it.
    from airflow.api_fastapi.app import get_cookie_path

    assert "/mlops/inventory".startswith(get_cookie_path())


def test_plugin_registers_app_views_and_link(plugin_module) -> None:
    plugin = plugin_module.MlopsConsolePlugin
    (app,) = plugin.fastapi_apps
    assert app["url_prefix"] == "/mlops"
    names = {v["name"] for v in plugin.external_views}
    assert "Model inventory" in names
    assert all(
        v["href"].startswith("/mlops/") and v.get("url_route") for v in plugin.external_views
    )
    assert [link.name for link in plugin.global_operator_extra_links] == ["Evidence"]


def test_every_console_route_depends_on_authentication(plugin_module) -> None:
    from include.console.app import authenticated_user

    (entry,) = plugin_module.MlopsConsolePlugin.fastapi_apps
    app = entry["app"]
    assert any(d.dependency is authenticated_user for d in app.router.dependencies)
    routes = [r for r in app.routes if getattr(r, "path", "").startswith("/")]
    assert routes and all(
        any(d.call is authenticated_user for d in r.dependant.dependencies)
        for r in routes
        if hasattr(r, "dependant")
    )


def test_plugin_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, 'plugins'); import mlops_console; "
        "heavy = [m for m in ('mlflow', 'feast', 'pandas', 'great_expectations', 'evidently')"
        " if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
