"""One place for settings: environment variables with embedded defaults.

Every location can be a local path or an ``s3://`` URI; the same code runs against both.
Secrets never live here: SMTP credentials come from the Airflow connection named by
``MLOPS_SMTP_CONN_ID``, S3 credentials from the standard ``AWS_*`` variables.
See ``.env.example`` for each variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The use cases of the platform (include.config.usecases): a comma-separated list of spec
# names (``usecase/<name>.yaml``), paths, or ``name=path``, each scoped. Unset: one use case,
# unscoped.
USECASES_ENV = "MLOPS_USECASES"
# The use case a process works for (a task sets it first: include.orchestration.alerts).
USECASE_ENV = "MLOPS_USECASE"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# The use case of a request in a process that serves them all (the console), when set.
_CURRENT: ContextVar[str | None] = ContextVar("mlops_usecase", default=None)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


class UseCaseUnknown(ValueError):
    """A use case name that the platform does not run (``MLOPS_USECASES``)."""


@dataclass(frozen=True)
class UseCase:
    """One use case of the platform: its name (the spec file's stem), its spec file, and
    whether it is one of the listed ones (``scoped``, ``MLOPS_USECASES``): then its storage
    roots, DAG ids, Asset names, feature store, serving pointer and console pages carry its
    name, whether it runs alone or beside others, so that adding or removing another one
    never moves it."""

    name: str
    spec: Path
    scoped: bool = False
    index: int = 0  # its place in MLOPS_USECASES (its scoring service's port offset)

    def qualify(self, base: str) -> str:
        """A platform-wide id (DAG, Asset) for this use case's ``base`` one."""
        return f"{self.name}.{base}" if self.scoped else base

    def root(self, uri: str) -> str:
        """This use case's part of a storage root (a path or an ``s3://`` URI)."""
        return f"{uri.rstrip('/')}/{self.name}" if self.scoped else uri


def _spec_path(entry: str) -> Path:
    if entry.endswith((".yaml", ".yml")) or "/" in entry:
        return REPO_ROOT / Path(entry)  # relative: the repository's, whatever the cwd
    return REPO_ROOT / "usecase" / f"{entry}.yaml"


def usecases() -> tuple[UseCase, ...]:
    """The use cases this platform runs, in ``MLOPS_USECASES`` order (cheap: no file read).

    Unset, the one spec of ``MLOPS_USECASE_SPEC`` (default: the bundled fraud use case),
    unscoped: its DAG ids and storage roots are the platform's own. Listed (one or more):
    each scoped, alone or not.
    """
    entries = [e.strip() for e in os.environ.get(USECASES_ENV, "").split(",") if e.strip()]
    if not entries:
        spec = REPO_ROOT / Path(_env("MLOPS_USECASE_SPEC", str(_default_spec())))
        return (UseCase(name=_stem(spec), spec=spec),)
    found: list[UseCase] = []
    for index, entry in enumerate(entries):
        # "name=path" names a spec file whose stem is not the use case's (a Bento's spec).
        named, _, path = entry.rpartition("=")
        spec = _spec_path(path)
        name = named.strip() or spec.stem
        if not _NAME.match(name):
            raise UseCaseUnknown(
                f"{USECASES_ENV}: {entry!r}: a use case's name (its spec file's stem) must be "
                "lower-case letters, digits and '_', starting with a letter (at most 40)"
            )
        if any(u.name == name for u in found):
            raise UseCaseUnknown(f"{USECASES_ENV}: {name!r} is listed twice")
        found.append(UseCase(name=name, spec=spec, scoped=True, index=index))
    return tuple(found)


def _stem(spec: Path) -> str:
    stem = spec.stem
    # The spec a Bento carries is "spec.yaml"; any other stem names its use case.
    return stem if _NAME.match(stem) else re.sub(r"[^a-z0-9_]", "_", stem.lower()) or "usecase"


def current_usecase(name: str | None = None) -> UseCase:
    """The use case named, else this request's or process's (``MLOPS_USECASE``), else the
    first one; :class:`UseCaseUnknown` for a name the platform does not run."""
    name = name or _CURRENT.get() or os.environ.get(USECASE_ENV, "").strip() or None
    configured = usecases()
    if name is None:
        return configured[0]
    for uc in configured:
        if uc.name == name:
            return uc
    if len(configured) == 1 and not configured[0].scoped:
        return configured[0]  # one use case: it is the platform's, whatever it is called
    names = ", ".join(u.name for u in configured)
    raise UseCaseUnknown(f"use case {name!r} is not one of this platform's ({names})")


def activate(name: str) -> UseCase:
    """Make ``name`` this process's use case (a task's first step; child processes inherit)."""
    uc = current_usecase(name)
    os.environ[USECASE_ENV] = uc.name
    return uc


def enter_usecase(name: str | None) -> UseCase:
    """From now on in this asyncio task or thread (a request's), the settings are those of
    use case ``name`` (default: the first); a server that serves every use case sets it per
    request. :class:`UseCaseUnknown` for a name the platform does not run."""
    uc = current_usecase(name)
    _CURRENT.set(uc.name)
    return uc


@contextmanager
def usecase_scope(name: str | None) -> Iterator[UseCase]:
    """Within the block (this thread or task only), settings are those of use case ``name``."""
    uc = current_usecase(name)
    token = _CURRENT.set(uc.name)
    try:
        yield uc
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`get_settings`."""

    data_root: Path
    landing_uri: str
    lake_uri: str
    # Offline feature tables (local path or s3://); paths below each root: include.layout.
    features_uri: str
    gx_root: Path
    mlflow_tracking_uri: str
    feast_repo: Path
    usecase_spec: Path
    smtp_conn_id: str
    alert_recipients: tuple[str, ...]
    s3_endpoint_url: str | None
    mail_sink_dir: Path
    # Feast online store: "sqlite" (embedded, <data_root>/feast/online.db) or "redis".
    feast_online_store: str = "sqlite"
    redis_url: str = "redis://localhost:6379/0"
    ingest_catchup: bool = False
    # Day the ingest DAGs' schedule starts (with catchup, their first run ingests it).
    ingest_start_date: str = "2026-01-01"
    # Seconds before a failed task's first retry (exponential backoff after it).
    task_retry_delay_s: int = 30
    # Feast registry: a file path, or a SQLAlchemy URL (postgresql+psycopg2://...) for
    # Feast's SQL registry, which many task processes can update at once.
    feast_registry: str = ""
    # Where MLflow puts the artifacts of new experiments when the tracking URI is a database.
    mlflow_artifact_root: str = ""
    # Evidently workspace (local folder): every monitoring snapshot, for `make evidently-ui`.
    evidently_workspace: Path | None = None
    # The MLflow UI people open (links in lineage and mails): MLOPS_MLFLOW_UI_URL, else an
    # http(s) tracking URI, else `make mlflow-ui`'s address.
    mlflow_ui_url: str = "http://localhost:5000"
    # The use case these settings are for (include.config.UseCase).
    usecase: UseCase | None = None
    # Its scoring service's stable address (include.deployment.http.stable_url).
    serving_url: str = "http://127.0.0.1:3000"

    def _own(self, folder: str) -> Path:
        base = self.data_root / folder
        return Path(self.usecase.root(str(base))) if self.usecase else base

    @property
    def feast_dir(self) -> Path:
        """The use case's feature-store files: online store, registry file, scratch."""
        return self._own("feast")

    @property
    def serving_dir(self) -> Path:
        """The folder of the use case's serving pointer (serving.pointer)."""
        return self._own("serving")


def get_settings(usecase: str | None = None) -> Settings:
    """Read the environment now (cheap; call it where the value is used, not at import).

    The settings of ``usecase``, else of the current one (:func:`current_usecase`): with
    several use cases, each has its own part of every storage root (``<lake>/<name>/...``).
    """
    uc = current_usecase(usecase)
    data_root = Path(_env("MLOPS_DATA_ROOT", str(REPO_ROOT / "data"))).resolve()
    feast_dir = Path(uc.root(str(data_root / "feast")))
    recipients = tuple(
        r.strip() for r in os.environ.get("MLOPS_ALERT_RECIPIENTS", "").split(",") if r.strip()
    )
    return Settings(
        data_root=data_root,
        landing_uri=uc.root(_env("MLOPS_LANDING_URI", str(data_root / "landing"))),
        lake_uri=uc.root(_env("MLOPS_LAKE_URI", str(data_root / "lake"))),
        features_uri=uc.root(_env("MLOPS_FEATURES_URI", str(data_root / "features"))),
        gx_root=Path(uc.root(_env("MLOPS_GX_ROOT", str(data_root / "gx")))),
        mlflow_tracking_uri=_env(
            "MLFLOW_TRACKING_URI", f"sqlite:///{data_root / 'mlflow' / 'mlflow.db'}"
        ),
        feast_repo=Path(_env("MLOPS_FEAST_REPO", str(REPO_ROOT / "feature_repo"))),
        # A relative spec path is the repository's (usecase/flights.yaml): every process,
        # whatever its working directory (a task, a Bento build), reads the same file.
        usecase_spec=uc.spec,
        smtp_conn_id=_env("MLOPS_SMTP_CONN_ID", "smtp_mlops"),
        alert_recipients=recipients,
        s3_endpoint_url=os.environ.get("MLOPS_S3_ENDPOINT_URL") or None,
        mail_sink_dir=Path(_env("MLOPS_MAIL_SINK_DIR", str(data_root / "mail"))),
        feast_online_store=_env("MLOPS_FEAST_ONLINE_STORE", "sqlite").lower(),
        redis_url=_env("MLOPS_REDIS_URL", "redis://localhost:6379/0"),
        ingest_catchup=_env("MLOPS_INGEST_CATCHUP", "false").lower() in ("1", "true", "yes"),
        ingest_start_date=_env("MLOPS_INGEST_START_DATE", "2026-01-01"),
        task_retry_delay_s=int(_env("MLOPS_TASK_RETRY_DELAY_S", "30")),
        # A SQL registry holds every use case's Feast project; a file registry is one each.
        feast_registry=_env("MLOPS_FEAST_REGISTRY", str(feast_dir / "registry.db")),
        mlflow_artifact_root=_env(
            "MLOPS_MLFLOW_ARTIFACT_ROOT", str(data_root / "mlflow" / "artifacts")
        ),
        evidently_workspace=Path(_env("MLOPS_EVIDENTLY_WORKSPACE", str(data_root / "evidently"))),
        mlflow_ui_url=_env("MLOPS_MLFLOW_UI_URL", _mlflow_ui_default()).rstrip("/"),
        usecase=uc,
        serving_url=_serving_url(uc),
    )


def _serving_url(uc: UseCase) -> str:
    """``MLOPS_SERVING_URL_<NAME>``, else (one use case) ``MLOPS_SERVING_URL``, else the
    local port ``MLOPS_SERVING_PORT`` + the use case's place in ``MLOPS_USECASES``."""
    named = os.environ.get(f"MLOPS_SERVING_URL_{uc.name.upper()}", "").strip()
    if named:
        return named.rstrip("/")
    if not uc.scoped and (url := os.environ.get("MLOPS_SERVING_URL", "").strip()):
        return url.rstrip("/")
    port = int(_env("MLOPS_SERVING_PORT", "3000")) + uc.index
    return f"http://127.0.0.1:{port}"


def _default_spec() -> Path:
    """The spec when ``MLOPS_USECASE_SPEC`` is unset: the one a Bento or an image carries
    (``usecase/spec.yaml``, serving/bento.py), else the bundled default use case."""
    carried = REPO_ROOT / "usecase" / "spec.yaml"
    return carried if carried.is_file() else REPO_ROOT / "usecase" / "fraud.yaml"


def _mlflow_ui_default() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri if uri.startswith(("http://", "https://")) else "http://localhost:5000"
