"""One Bento per model version: the service code, its few ``include`` modules, the spec and
the packaged model, with pinned dependencies and a Dockerfile.

:func:`build` (``fraud_service:v<version>``) stages a clean build context holding only:

* ``serving/*.py`` (the service);
* the ``include`` modules the service imports, found by following the ``import`` statements
  of ``serving/`` (so Feast, Airflow and the training code stay out of the image);
* ``usecase/spec.yaml``: the spec in force when building (``MLOPS_USECASE_SPEC``), where
  ``include.config`` looks first when ``MLOPS_USECASE_SPEC`` is unset (the candidate check
  serves a Bento without it: the Bento serves the spec it carries);

and builds it with ``models=[<model tag>]``, ``envs`` pinning ``MLOPS_SERVING_MODEL`` to the
packaged model (the Bento serves exactly it unless the environment says otherwise),
``python.packages`` pinned to ``requirements.lock``'s versions of what the service imports
(:data:`SERVICE_PACKAGES` + the model's own requirements), ``lock_packages: False`` (no
resolver, no PyPI at build time) and the generated ``env/docker/Dockerfile``.

BentoML needs a ``uv`` binary on ``PATH`` to build even without locking (it would otherwise
``pip install uv`` and fail in a pip-less venv): :func:`uv_dir` finds one. :func:`bentoml_home`
is the one place that says where BentoML's stores live (``BENTOML_HOME``, default
``<data_root>/bentoml``); package, build and serve all use it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICE = "serving.service:ScoringService"


def bento_name() -> str:
    """The Bento's name: the use case's (``<use case>_service``), so that two use cases'
    versions never share a tag."""
    from include.config import current_usecase

    return f"{current_usecase().name}_service"


SPEC_IN_BENTO = "usecase/spec.yaml"  # include.config's carried spec
# Distributions the service imports itself (BentoML pins itself; checked against the lock);
# the model adds its own (its MLflow requirements.txt): mlflow, numpy, pandas, xgboost.
SERVICE_PACKAGES = ("pydantic", "numpy", "pyyaml", "mlflow", "boto3", "redis")


class UvMissing(RuntimeError):
    """No ``uv`` binary to give BentoML's build."""


class BentoConflict(RuntimeError):
    """The Bento tag exists for another model."""


class LockMissing(LookupError):
    """A package the service needs is not pinned in requirements.lock."""


# ------------------------------------------------------------------------- environment
def bentoml_home() -> Path:
    """BentoML's home: ``BENTOML_HOME`` if set, else ``<data_root>/bentoml``."""
    configured = os.environ.get("BENTOML_HOME", "").strip()
    if configured:
        return Path(configured)
    from include.config import get_settings

    return get_settings().data_root / "bentoml"


def use_bentoml_home() -> Path:
    """Point this process's BentoML at :func:`bentoml_home` (before its stores are first
    used) and keep BentoML's usage tracking off unless the environment decided otherwise."""
    home = bentoml_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["BENTOML_HOME"] = str(home)
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    from bentoml._internal.configuration.containers import BentoMLContainer

    resolved = Path(BentoMLContainer.bentoml_home.get())  # fixed at BentoML's first use
    if resolved.resolve() != home.resolve():
        raise RuntimeError(
            f"BentoML already uses {resolved} in this process, not {home}: set BENTOML_HOME "
            "(or MLOPS_DATA_ROOT) before anything in the process touches BentoML's stores"
        )
    return home


def uv_dir() -> Path:
    """The directory of a ``uv`` executable: on PATH, next to this interpreter (the venv's
    bin) or in ``~/.local/bin``."""
    candidates = [shutil.which("uv")]
    candidates += [str(Path(sys.executable).parent / "uv"), str(Path.home() / ".local/bin/uv")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate).parent
    raise UvMissing(
        "building a Bento needs the `uv` binary (BentoML 1.4 installs the Bento's packages "
        "with it even when nothing is locked) and none was found on PATH, next to "
        f"{sys.executable} or in ~/.local/bin. Install the project's pinned one: "
        "`python3 -m pip install --user uv==0.13.9` (what `make` does), then retry."
    )


# ---------------------------------------------------------------------------- contents
def _imports(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (at any level, lazily or not)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def _module_file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def service_files(root: Path = REPO_ROOT) -> list[Path]:
    """``serving/*.py`` and the ``include`` modules they import, transitively (with their
    packages' ``__init__.py``), relative to ``root``."""
    todo = sorted((root / "serving").glob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            if not module.startswith("include"):
                continue
            parts = module.split(".")
            for i in range(1, len(parts) + 1):  # the packages on the way count too
                found = _module_file(".".join(parts[:i]), root)
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(p.relative_to(root) for p in seen)


def _dist(requirement: str) -> str:
    """A requirement's distribution name, normalised (``PyYAML>=6`` -> ``pyyaml``)."""
    name = re.split(r"[\s\[<>=!~;@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(names: Iterable[str], lock: Path = REPO_ROOT / "requirements.lock") -> list[str]:
    """``name==version`` for each distribution, the version read from ``lock``."""
    versions = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, version = line.strip().partition("==")
            versions[_dist(name)] = version.split(";")[0].strip()
    pins, missing = [], []
    for name in dict.fromkeys(_dist(n) for n in names):
        if name in versions:
            pins.append(f"{name}=={versions[name]}")
        else:
            missing.append(name)
    if missing:
        raise LockMissing(
            f"{missing} are not pinned in {lock}: add them to requirements.txt and run "
            "`make lock`; a Bento never installs an unpinned package"
        )
    return pins


def _model_requirements(model_tag: str) -> list[str]:
    import bentoml

    from serving.model import MODEL_DIR

    path = Path(bentoml.models.get(model_tag).path_of(MODEL_DIR)) / "requirements.txt"
    if not path.is_file():
        return []
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [_dist(line) for line in lines if line and not line.startswith(("#", "-"))]


def _git_commit(root: Path = REPO_ROOT) -> str:
    """The checked-out commit, read from ``.git`` files (no git process; "unknown" outside
    a checkout, e.g. in an image)."""
    git = root / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = (root / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:12]
        ref = head.split(":", 1)[1].strip()
        if (git / ref).is_file():
            return (git / ref).read_text().strip()[:12]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12]
    except (OSError, IndexError):
        pass
    return "unknown"


def _stage(ctx: Path, root: Path, spec_path: Path) -> str:
    """Copy what the Bento holds into ``ctx``; returns the sources' digest."""
    digest = hashlib.sha256()
    for rel in service_files(root):
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, ctx / rel)
        digest.update(str(rel).encode() + b"\0" + (root / rel).read_bytes())
    (ctx / SPEC_IN_BENTO).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(spec_path, ctx / SPEC_IN_BENTO)
    digest.update(SPEC_IN_BENTO.encode() + b"\0" + spec_path.read_bytes())
    return digest.hexdigest()[:16]


# ------------------------------------------------------------------------------- build
def build(model_tag: str, *, version: str | int) -> str:
    """The Bento ``fraud_service:v<version>`` serving ``model_tag``; returns its tag.

    Idempotent: an existing Bento of that tag whose model is ``model_tag`` is reused (a
    retried deployment); one built for another model raises :class:`BentoConflict`.
    """
    use_bentoml_home()
    import bentoml
    from bentoml._internal.bento.build_config import BentoEnvSchema  # what build() takes

    from include.config import get_settings
    from serving.model import METADATA_FILE, MODEL_DIR

    tag = f"{bento_name()}:v{version}"
    try:
        existing = bentoml.bentos.get(tag)
    except bentoml.exceptions.NotFound:
        existing = None
    if existing is not None:
        models = [str(m.tag) for m in existing.info.all_models]
        if models == [model_tag]:
            return tag
        raise BentoConflict(
            f"Bento {tag} exists for models {models}, not {model_tag}; remove it with "
            f"`bentoml delete {tag}` (BENTOML_HOME={bentoml_home()}) and build again"
        )
    try:
        model = bentoml.models.get(model_tag)
    except bentoml.exceptions.NotFound:
        raise LookupError(
            f"BentoML model {model_tag} is not in {bentoml_home()}: package it first "
            "(serving.model.package)"
        ) from None
    meta_file = Path(model.path_of(METADATA_FILE))
    if not meta_file.is_file() or not Path(model.path_of(MODEL_DIR)).is_dir():
        raise LookupError(f"{model_tag} was not packaged by serving.model.package")
    meta = json.loads(meta_file.read_text())
    packages = lock_pins([*SERVICE_PACKAGES, *_model_requirements(model_tag)])
    (locked,) = lock_pins(["bentoml"])
    if locked != f"bentoml=={bentoml.__version__}":
        raise LockMissing(
            f"requirements.lock pins {locked} but bentoml {bentoml.__version__} builds: the "
            "Bento would run another BentoML than the one it was built and tested with"
        )
    spec_path = Path(get_settings().usecase_spec)
    path_env = os.environ.get("PATH", "")
    with tempfile.TemporaryDirectory(prefix="mlops-bento-") as tmp:
        ctx = Path(tmp)
        sources = _stage(ctx, REPO_ROOT, spec_path)
        os.environ["PATH"] = f"{uv_dir()}{os.pathsep}{path_env}"
        try:
            bento = bentoml.bentos.build(
                SERVICE,
                name=bento_name(),
                version=f"v{version}",
                build_ctx=str(ctx),
                include=["serving/*.py", "include/**/*.py", SPEC_IN_BENTO],
                exclude=["__pycache__", "*.pyc"],
                models=[model_tag],
                envs=[BentoEnvSchema(name="MLOPS_SERVING_MODEL", value=model_tag)],
                labels={
                    "model_name": str(meta.get("name", model_tag.split(":")[0])),
                    "model_version": str(version),
                    "model_tag": model_tag,
                    "git_commit": _git_commit(),
                    "model_git_commit": str(meta.get("git_commit") or "unknown"),
                    "sources_sha256": sources,
                    "spec": spec_path.name,
                },
                description=f"Scoring service serving {model_tag} (serving/service.py)",
                python={"packages": packages, "lock_packages": False},
                docker={"python_version": f"{sys.version_info.major}.{sys.version_info.minor}"},
            )
        finally:
            os.environ["PATH"] = path_env
    dockerfile = Path(bento.path_of("env/docker/Dockerfile"))
    if not dockerfile.is_file():
        raise RuntimeError(f"Bento {bento.tag} was built without {dockerfile}")
    return str(bento.tag)
