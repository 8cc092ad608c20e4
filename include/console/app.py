"""The operator console: a FastAPI app that Airflow's api-server mounts under ``/mlops``.

Why a FastAPI-app plugin (``fastapi_apps``) and not only external views or a React app:
the evidence is files in the lake (local or S3) that a browser cannot read by itself, so
something server-side must serve them; inside Airflow's own api-server it runs on the UI's
origin, so the UI's session cookie reaches it and Airflow's auth manager decides who sees
it, with no second login, port or proxy. ``external_views`` (plugins/mlops_console.py) only
add the nav entries that show these pages in an iframe; a React app would still need this
server side and a JS build. Flask/AppBuilder views need the FAB provider (not installed).

**Authentication.** Plugin apps get no auth from Airflow (stack notes 1g: 200 without a
token), so every route here depends on :func:`authenticated_user`, which calls the public
API's own ``get_user`` (``airflow/api_fastapi/core_api/security.py``): an ``Authorization:
Bearer <jwt>`` header, else the ``_token`` cookie of the UI session (SimpleAuthManager's
login page sets it with path = the UI's base path, ``/`` by default; Airflow's
``JWTRefreshMiddleware`` re-sets it httponly/SameSite=Lax on the same path), which the browser
therefore sends to ``/mlops/...`` and to the UI's same-origin iframes; else 401, and a bad or
forged token is 403. The user
must then pass ``is_authorized_view(WEBSITE)``, the check behind the UI itself. Airflow is
imported in the dependency, not at module import: every Airflow process loads plugins.

**Quarantine evidence is for admins.** The raw files, the unmasked validation result and
the Data Docs of a quarantined batch (:func:`include.console.lake.is_evidence`) hold raw
personal data: a user who is not an admin (:func:`is_admin`) gets 403 saying where the masked
report is, sees no evidence in folder listings, and sees the quarantine page's summaries
without evidence links.

Routes: ``/`` (home), ``/lake/{path}`` (reports, quarantine, deployment records; include/
console/lake.py decides what is served), ``/assets/{path}`` (vendored front-end assets),
``/deployments``, ``/inventory``, ``/lineage``, ``/quarantine`` and their JSON twins under
``/api/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from include import storage
from include.console import assets, lake, pages, quarantine, views
from include.console.links import SERVED_AREAS

_bearer = HTTPBearer(auto_error=False)
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


async def authenticated_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """The Airflow user of the request (bearer token or ``_token`` cookie), else 401/403."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user

    user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(403, "Forbidden")
    return user


# With an auth manager other than SimpleAuthManager, whoever holds GET on this custom view
# is an admin here (FAB: "can_read" on a resource of this name); nobody else.
EVIDENCE_VIEW = "Quarantine evidence"


def is_admin(user: Any) -> bool:
    """Whether ``user`` may open quarantine evidence.

    Airflow's auth managers have no "is admin" question of their own. SimpleAuthManager
    (``make run``, the production profile, docker compose: ``simple_auth_manager_users =
    name:admin``) answers its ``is_authorized_*`` checks by role order, and its highest
    such check (configuration, connections, variables) already lets ``op`` in: so the
    ``admin`` role itself decides (``simple_auth_manager_all_admins`` makes everyone one).
    Any other auth manager is asked for GET on the custom view :data:`EVIDENCE_VIEW`, a
    permission it grants to no one unless a person gives it to a role.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    manager = get_auth_manager()
    if isinstance(manager, SimpleAuthManager):
        return str(getattr(user, "role", None) or "").lower() == "admin"
    return bool(
        manager.is_authorized_custom_view(method="GET", resource_name=EVIDENCE_VIEW, user=user)
    )


async def admin_of_request(user: Annotated[Any, Depends(authenticated_user)]) -> bool:
    """Whether the request's user is an admin (the user comes from the app's own
    dependency: FastAPI resolves :func:`authenticated_user` once per request)."""
    return is_admin(user)


class EvidenceRestricted(HTTPException):
    """403 on quarantine evidence, with where to read the masked version instead."""

    def __init__(self, detail: str, where: dict[str, str]) -> None:
        super().__init__(403, detail)
        self.where = where


def _login_url(request: Request) -> str | None:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=str(request.url))
    except Exception:  # no auth manager (not in the api-server): no link, still 401
        return None


async def usecase_of_request(request: Request) -> None:
    """The use case a request is for: ``/uc/<name>/...`` (several use cases), else
    ``?usecase=<name>``, else the first; 404 for one the platform does not run. Set for this
    request only (its task's context; the sync routes' threads copy it)."""
    from include.config import UseCaseUnknown, enter_usecase

    name = request.path_params.get("usecase") or request.query_params.get("usecase")
    try:
        enter_usecase(name)
    except UseCaseUnknown as exc:
        raise HTTPException(404, str(exc)) from None


def _lake_uri() -> str:
    from include.config import get_settings

    return get_settings().lake_uri


def create_app() -> FastAPI:
    app = FastAPI(
        title="MLOps console",
        dependencies=[Depends(authenticated_user)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # Every page twice: the console's own (one use case, or the first) and each use case's
    # under /uc/<name>/ (include.console.links.usecase_path).
    pages_router = APIRouter(dependencies=[Depends(usecase_of_request)])

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        response.headers.setdefault("Cache-Control", "private, no-cache")
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        where = getattr(exc, "where", None) or {}
        if not wants_html:
            content = {"detail": exc.detail, **({"see": where} if where else {})}
            return JSONResponse(content, status_code=exc.status_code)
        body = pages.message("error", str(exc.detail))
        if where:
            body += "<p>" + " · ".join(pages.link(k, v) for k, v in where.items()) + "</p>"
        if exc.status_code in (401, 403) and (login := _login_url(request)):
            body += f"<p>{pages.link('Sign in to Airflow', login)} and come back.</p>"
        return HTMLResponse(pages.page(f"{exc.status_code}", body), status_code=exc.status_code)

    @pages_router.get("/", response_class=HTMLResponse)
    def home() -> str:
        return views.home_page()

    @pages_router.get("/lake/", response_class=HTMLResponse)
    def lake_root() -> str:
        rows = [(pages.link(a + "/", f"{a}/"), "") for a in SERVED_AREAS]
        return pages.page("Lake", pages.table(("area", ""), rows))

    @pages_router.get("/lake/{path:path}")
    def lake_path(path: str, admin: Annotated[bool, Depends(admin_of_request)]) -> Response:
        lake_uri = _lake_uri()
        try:
            target = lake.resolve(path, lake_uri)
        except (lake.Refused, ValueError):
            raise HTTPException(404, "Not found") from None
        is_file = not path.endswith("/") and lake.is_file(target)
        if not admin and lake.is_evidence(target.parts, folder=not is_file):
            raise EvidenceRestricted(*quarantine.restricted(target.parts, lake_uri))
        if is_file:
            return _file_response(target.parts[-1], lake.read(target))
        entries = lake.list_folder(target)
        if entries is None:
            raise HTTPException(404, "Not found")
        if not path.endswith("/"):  # relative links in the listing need the trailing slash
            return RedirectResponse(f"{target.parts[-1]}/", status_code=307)
        shown, hidden = quarantine.visible(target, entries, admin)
        return HTMLResponse(views.listing_page(target, shown, hidden=hidden))

    @pages_router.get("/assets/{path:path}")
    def asset(path: str) -> Response:
        file = _asset_file(path)
        if file is None:
            raise HTTPException(404, "Not found")
        response = _file_response(file.name, file.read_bytes(), rewrite=False)
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    @pages_router.get("/quarantine", response_class=HTMLResponse)
    def quarantine_page(admin: Annotated[bool, Depends(admin_of_request)]) -> str:
        lake_uri = _lake_uri()
        found = quarantine.batches(lake_uri)
        return quarantine.quarantine_page(found, lake_uri, admin, quarantine.retention_days())

    @pages_router.get("/api/quarantine")
    def quarantine_json(admin: Annotated[bool, Depends(admin_of_request)]) -> list[dict]:
        lake_uri = _lake_uri()
        return quarantine.as_json(quarantine.batches(lake_uri), lake_uri, admin)

    @pages_router.get("/deployments", response_class=HTMLResponse)
    def deployments_page() -> str:
        return views.deployments_page(views.deployment_records(_lake_uri()))

    @pages_router.get("/api/deployments")
    def deployments_json() -> list[dict[str, Any]]:
        return [r for _, r in views.deployment_records(_lake_uri())]

    @pages_router.get("/inventory", response_class=HTMLResponse)
    def inventory_page() -> Response:
        data = views.load_inventory()
        if isinstance(data, views.Unavailable):
            return HTMLResponse(views.unavailable_page("Model inventory", data), 503)
        return HTMLResponse(views.inventory_page(data))

    @pages_router.get("/api/inventory")
    def inventory_json() -> Response:
        data = views.load_inventory()
        if isinstance(data, views.Unavailable):
            return JSONResponse({"detail": data.reason}, status_code=503)
        return JSONResponse(json.loads(json.dumps(data, default=str)))

    @pages_router.get("/lineage", response_class=HTMLResponse)
    def lineage_page(
        prediction_id: str | None = None, transaction_id: str | None = None
    ) -> Response:
        if not (prediction_id or transaction_id):
            return HTMLResponse(views.lineage_form())
        data = views.load_lineage(prediction_id, transaction_id)
        if isinstance(data, views.Unavailable):
            return HTMLResponse(views.unavailable_page("Lineage", data), 503)
        return HTMLResponse(views.lineage_page(data))

    @pages_router.get("/api/lineage")
    def lineage_json(
        prediction_id: str | None = None, transaction_id: str | None = None
    ) -> Response:
        if not (prediction_id or transaction_id):
            raise HTTPException(400, "give prediction_id or transaction_id")
        data = views.load_lineage(prediction_id, transaction_id)
        if isinstance(data, views.Unavailable):
            return JSONResponse({"detail": data.reason}, status_code=503)
        return JSONResponse(json.loads(json.dumps(data, default=str)))

    app.include_router(pages_router)
    app.include_router(pages_router, prefix="/uc/{usecase}")
    return app


def _file_response(name: str, data: bytes, *, rewrite: bool = True) -> Response:
    ctype = lake.content_type(name)
    if rewrite and ctype.startswith(("text/html", "text/css")):
        data = assets.rewrite(data.decode("utf-8", "replace")).encode()
    headers = {}
    if ctype == lake.DOWNLOAD_TYPE:
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(content=data, media_type=ctype, headers=headers)


def _asset_file(path: str) -> Path | None:
    """A vendored asset (or a GX image) for ``path``, checked like lake paths."""
    try:
        parts = lake.check_segments(path)
    except lake.Refused:
        return None
    if parts[0] == assets.GX_IMAGES:
        root, rest = assets.gx_images_dir(), parts[1:]
    else:
        root, rest = assets.assets_dir(), parts
    if root is None or not rest or any(p.startswith(".") for p in rest):
        return None
    file = Path(storage.join(str(root), *rest))
    real, real_root = os.path.realpath(file), os.path.realpath(root)
    if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
        return None
    return file
