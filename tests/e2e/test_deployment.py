"""The deployment runs as shipped. The Kubernetes overlay (rendered by kubectl kustomize) and
the compose file are taken as they are: each service's environment as they set it (with the
test's values for the Secrets and variables an operator provides), the RabbitMQ users and
permissions and the PostgreSQL roles as they define them, made on the local servers in a
vhost and a database of the test's own. Every service then runs as a process with that
environment and the README's walk-through goes through them: an alert reaches the gateway
simulator, a digest's preferences links point at the configured public address (and open
the member's page), the registry's evaluation report fetches its parts from intake and
dispatch. A service that uses a right its deploy user lacks fails the test, through the
walk-through or through the refusal in its log.

What the test changes, and only that: where things are on this machine
(:func:`tests.deployment.localise`: loopback ports for in-cluster addresses, a folder for a
mounted Secret, the test's OIDC provider for the zone's) and the queue type
(:data:`tests.deployment.TEST_QUEUE_TYPE`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
from aio_pika.abc import AbstractQueue

from shared import topology as topo
from shared.auth import AuthSettings, Role, mint_token
from shared.events import DeliveryRequested, Visibility
from tests.deployment import (
    COMPOSE_VARIABLES,
    PASSWORD,
    DeployedService,
    LocalBroker,
    admin_in,
    amqp_url_in,
    broker_admin,
    compose_services,
    database_roles,
    kubernetes_permissions,
    kubernetes_secrets,
    kubernetes_services,
    localise,
    of_kind,
    render_overlay,
    run_users_sh,
    with_location,
)
from tests.e2e.api_client import PLAN, registry_events_consumed, seeded_member
from tests.e2e.system import ROOT, RunningSystem
from tests.helpers import eventually
from tests.infrastructure import Infrastructure
from tests.lifecycle import Bearer, make_official
from tests.oidc_provider import FakeProvider, running_provider

# Started in this order, each ready before the next: the simulator declares nothing (it has
# a gateway's broker user), so dispatch must have declared the gateway queues first.
ORDER = ("registry", "intake", "dispatch", "digest", "connectors", "gateway_simulator")
# A service that used a right its deploy user lacks says so in its log.
REFUSALS = re.compile(
    r"ACCESS_REFUSED|access to .* refused|permission denied|InsufficientPrivilege"
)
MEMBERS = 3  # one reached by SMS, one by voice, one by e-mail (api_client.seeded_member)


@dataclass
class Deployment:
    """One deployment made real on this machine."""

    system: RunningSystem
    deployed: dict[str, DeployedService]  # by module: registry, intake, ...
    bearer: Bearer  # tokens the deployment accepts
    admin_amqp_url: str  # the tests' own broker user in the deployment's vhost
    # Public addresses as the operator configured them, and where they are here.
    public: dict[str, str]

    def setting(self, module: str, variable: str) -> str:
        return self.deployed[module].env[variable]

    def here(self, url: str) -> str:
        """A public URL the deployment hands out, followed on this machine."""
        if url.startswith("http://127.0.0.1:"):
            return url
        for origin, local in self.public.items():
            if url.startswith(origin):
                return local + url[len(origin) :]
        raise AssertionError(f"{url} is not one of the deployment's public addresses")


def _outside_env() -> dict[str, str]:
    """The test process's environment less its BIN_ settings, with the virtualenv's python
    first on PATH (the image's)."""
    outside = {k: v for k, v in os.environ.items() if not k.startswith("BIN_")}
    outside["PATH"] = f"{Path(sys.executable).parent}:{outside.get('PATH', '')}"
    return outside


def _run_step(step: DeployedService, env: Mapping[str, str]) -> None:
    """A one-off step (the migrations) exactly as its deploy file runs it."""
    result = subprocess.run(
        step.command,
        env={**_outside_env(), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"{step.name}: {result.stdout}{result.stderr}"


def _start(deployment: Deployment) -> None:
    system = deployment.system
    system.logs.mkdir(parents=True, exist_ok=True)
    for module in system.services:
        system.start_service(module)
        system.wait_ready(module, 60)


def _stop_and_check_logs(system: RunningSystem) -> None:
    codes = system.stop()
    for module in system.services:
        refused = [line for line in system.log(module).splitlines() if REFUSALS.search(line)]
        # The lines' ends: where the refusal is named, without the whole traceback.
        ends = "\n".join(line[-400:] for line in refused[:3])
        assert not refused, f"{module} used a right it lacks:\n{ends}"
    # Ended by the SIGTERM they were sent, after a graceful shutdown (test_walking_skeleton).
    assert codes == {module: -signal.SIGTERM for module in system.services}


# ── the walk-through ───────────────────────────────────────────────────────────────────


async def _walk_through(deployment: Deployment) -> None:
    system, bearer = deployment.system, deployment.bearer
    operator = bearer("operator-1", [Role.OPERATOR], police_zones=["Leuven"])
    registry, intake, dispatch = (system.url(s) for s in ("registry", "intake", "dispatch"))
    async with httpx.AsyncClient(timeout=20) as client:
        created = await client.post(
            f"{registry}/bins",
            headers=operator,
            json={
                "name": "Kessel-Lo Noord",
                "kind": "bin",
                "municipality": "Leuven",
                "police_zone": "Leuven",
                "communication_plan": PLAN,
                "streets": [{"street": "Abdijstraat"}],
            },
        )
        assert created.status_code == 201, created.text
        bin_id = created.json()["bin_id"]
        await make_official(client, registry, bin_id, "Leuven", "Leuven", operator, bearer)
        coordinator = bearer("coordinator-1", [Role.COORDINATOR], bin_ids=[uuid.UUID(bin_id)])
        for n in range(MEMBERS):
            member = await client.post(
                f"{registry}/bins/{bin_id}/members", json=seeded_member(n), headers=coordinator
            )
            assert member.status_code == 201, member.text

        async def known() -> bool:
            status = await client.get(f"{intake}/bins/{bin_id}", headers=operator)
            projected = await registry_events_consumed(client, system) >= MEMBERS + 1
            return status.status_code == 200 and status.json()["status"] == "active" and projected

        await eventually(known, timeout=60)

        # An alert reaches the gateway simulator; intake's progress link is the public one.
        issued = await client.post(
            f"{intake}/alerts",
            headers=operator,
            json={"bin_ids": [bin_id], "texts": {"nl": "Verdachte wagen", "fr": "Voiture"}},
        )
        assert issued.status_code == 202, issued.text
        progress_url = issued.json()["progress_url"]
        # What intake was given (compose's in-network address is localised, a public one not).
        given = system.service_env["intake"]["BIN_DISPATCH_URL"]
        assert progress_url.startswith(given + "/"), progress_url
        progress = await _followed(client, deployment.here(progress_url), operator)
        assert progress["delivered"] == MEMBERS
        assert {c: line["delivered"] for c, line in progress["channels"].items()} == {
            "sms": 1,
            "voice": 1,
            "email": 1,
        }
        stats = (await client.get(f"{system.url('gateway_simulator')}/stats")).json()
        assert {c: stats["sent"].get(c) for c in ("sms", "voice", "email")} == {
            "sms": 1,
            "voice": 1,
            "email": 1,
        }

        # A digest: every member's preferences link points at the configured public address
        # and opens the member's page (dispatch and the registry share the link secret).
        async with _gateway_tap(deployment.admin_amqp_url) as tapped:
            digest_id = await _digest_sent(client, deployment, bin_id, operator)
            progress = await _followed(client, f"{dispatch}/fanouts/{digest_id}/progress", operator)
            assert progress["delivered"] == MEMBERS
            links: list[str] = []

            async def every_link() -> list[str] | None:
                links.extend(await _links_of(tapped, digest_id))
                return links if len(links) >= MEMBERS else None

            await eventually(every_link, timeout=30)
        base = deployment.setting("dispatch", "BIN_PREFERENCES_BASE_URL")
        assert len(links) == MEMBERS
        for link in links:
            assert link.startswith(base + "/"), link
            page = await client.get(deployment.here(link))
            assert page.status_code == 200, page.text

        # The yearly evaluation report, composed from the registry's, intake's and
        # dispatch's parts (BIN_INTAKE_URL and BIN_DISPATCH_URL of the registry).
        year = datetime.now(UTC).year
        report = await client.get(
            f"{registry}/bins/{bin_id}/evaluation/{year}", headers=coordinator
        )
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["members"]["at_end"] == MEMBERS
        assert body["activity"]["activations"] == 1
        delivered = {c: line["delivered"] for c, line in body["deliveries"]["channels"].items()}
        assert delivered["sms"] == 1 and delivered["voice"] == 1


async def _followed(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    async def complete() -> dict[str, Any] | None:
        response = await client.get(url, headers=headers)
        body: dict[str, Any] = response.json() if response.status_code == 200 else {}
        return body if body.get("complete") and body.get("targeted") == MEMBERS else None

    return await eventually(complete, timeout=60)


async def _digest_sent(
    client: httpx.AsyncClient, deployment: Deployment, bin_id: str, operator: dict[str, str]
) -> str:
    """Police news recorded through intake; the BIN's next digest, once it carries it,
    sent at once rather than at 07:00."""
    news = await client.post(
        f"{deployment.system.url('intake')}/news",
        headers=operator,
        json={
            "police_zone": "Leuven",
            "place": "Leuven, Abdijstraat",
            "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "category": "burglary_home",
            "published_info": "Inbraak via de achterdeur, niets gestolen.",
            "publishable": True,
        },
    )
    assert news.status_code == 201, news.text
    digest = deployment.system.url("digest")

    async def carries_the_news() -> dict[str, Any] | None:
        response = await client.get(f"{digest}/bins/{bin_id}/digest/preview", headers=operator)
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["items"] >= 1 else None

    preview = await eventually(carries_the_news, timeout=30)
    sent = await client.post(
        f"{digest}/bins/{bin_id}/digest/{preview['day']}/resend", headers=operator
    )
    assert sent.status_code == 202, sent.text
    return str(sent.json()["digest_id"])


@asynccontextmanager
async def _gateway_tap(amqp_url: str) -> AsyncIterator[AbstractQueue]:
    """A queue of the test's own on bin.gateway taking copies of the e-mail work, as a
    third-party gateway would see it."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        exchange = await channel.get_exchange(topo.Topology().exchange_name(Visibility.GATEWAY))
        await queue.bind(exchange, topo.gateway_routing_key("email", "*"))
        yield queue
    finally:
        await connection.close()


async def _links_of(tap: AbstractQueue, source_id: str) -> list[str]:
    """The preferences links in the e-mail work of ``source_id`` that arrived since last time."""
    links = []
    while (message := await tap.get(no_ack=True, fail=False)) is not None:
        work = DeliveryRequested.model_validate_json(message.body)
        if str(work.data.source_id) == source_id:
            for delivery in work.data.deliveries:
                # The link is in the text too, not only for the List-Unsubscribe header.
                assert delivery.unsubscribe_url and delivery.unsubscribe_url in delivery.text
                links.append(delivery.unsubscribe_url)
    return links


# ── Kubernetes ─────────────────────────────────────────────────────────────────────────


@contextmanager
def kubernetes_deployment(infra: Infrastructure, logs: Path) -> Iterator[Deployment]:
    manifests = render_overlay("zone")
    permissions = kubernetes_permissions(manifests)
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    broker = LocalBroker()
    with ExitStack() as stack:
        vhost = stack.enter_context(broker.vhost(broker_admin(infra.amqp_url)))
        # The User's credentials Secret names the user; the Permission says what it may do.
        users = {name: f"{prefix}{name.removeprefix('bin-')}" for name in permissions}
        stack.enter_context(
            broker.users(vhost, {users[n]: (PASSWORD, p) for n, p in permissions.items()})
        )
        roles = stack.enter_context(database_roles(infra.database_url))
        provider: FakeProvider = stack.enter_context(running_provider())
        secrets = kubernetes_secrets(users, infra.amqp_url, vhost, roles)
        workloads = kubernetes_services(manifests, secrets)
        # The regional overlay gives every process the same environment (it scales).
        assert {
            n: w.env for n, w in kubernetes_services(render_overlay("regional"), secrets).items()
        } == {n: w.env for n, w in workloads.items()}
        config = of_kind(manifests, "ConfigMap")["bin-config"]["data"]
        jwks = provider.jwks_url
        provider.issuer = config["BIN_AUTH_ISSUER"]
        provider.audience = config["BIN_AUTH_AUDIENCE"]

        deployed = {w.module: w for w in workloads.values() if w.module != "migrate"}
        system = RunningSystem(
            admin_in(infra.amqp_url, vhost),
            roles.admin_url,
            logs,
            prefix="bin",
            services=ORDER,
            exact_env=True,
        )
        services = {s["metadata"]["name"]: s for s in of_kind(manifests, "Service").values()}
        addresses = {
            f"http://{name}": system.url(name.removeprefix("bin-"))
            for name, service in services.items()
            if service["spec"]["ports"][0]["port"] == 80
        }
        addresses[config["BIN_AUTH_JWKS_URL"]] = jwks
        mounts = {}
        for workload in deployed.values():
            for path, files in workload.files.items():
                folder = logs / "secrets" / workload.name
                folder.mkdir(parents=True, exist_ok=True)
                for file, content in files.items():
                    (folder / file).write_text(content)
                mounts[path] = folder
        for module, workload in deployed.items():
            system.service_env[module] = localise(
                workload.env, system.ports[module], addresses, mounts
            )
        # The zone's gateways stand outside the manifests: the simulator takes their place,
        # with the gateway's broker user (which may declare nothing).
        system.service_env["gateway_simulator"] = {
            "BIN_ENVIRONMENT": "development",
            "BIN_AMQP_URL": amqp_url_in(infra.amqp_url, vhost, users["bin-gateway"], PASSWORD),
            "BIN_DECLARE_TOPOLOGY": "false",
            "BIN_HTTP_PORT": str(system.ports["gateway_simulator"]),
            "BIN_GATEWAY_LATENCY_MS": "5",
            "BIN_LOG_FORMAT": "json",
        }
        _run_step(
            workloads["bin-migrate"],
            localise(workloads["bin-migrate"].env, 0, addresses, mounts),
        )

        def bearer(subject: str, roles_: list[Role], **scopes: Any) -> dict[str, str]:
            now = int(datetime.now(UTC).timestamp())
            claims = {
                "iss": provider.issuer,
                "aud": provider.audience,
                "sub": subject,
                "iat": now,
                "exp": now + 600,
                "roles": [r.value for r in roles_],
                **{k: [str(v) for v in vs] for k, vs in scopes.items()},
            }
            return {"Authorization": f"Bearer {provider.sign(claims)}"}

        public = {
            config["BIN_DISPATCH_URL"]: system.url("dispatch"),
            _origin(config["BIN_PREFERENCES_BASE_URL"]): system.url("registry"),
        }
        yield Deployment(system, deployed, bearer, admin_in(infra.amqp_url, vhost), public)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_the_kubernetes_zone_overlay_runs_as_rendered(
    infra: Infrastructure, tmp_path: Path
) -> None:
    with kubernetes_deployment(infra, tmp_path) as deployment:
        try:
            _start(deployment)
            await _walk_through(deployment)
        finally:
            _stop_and_check_logs(deployment.system)


# ── Docker Compose ─────────────────────────────────────────────────────────────────────


@contextmanager
def compose_deployment(infra: Infrastructure, logs: Path) -> Iterator[Deployment]:
    services = compose_services(COMPOSE_VARIABLES)
    broker = LocalBroker()
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    with ExitStack() as stack:
        vhost = stack.enter_context(broker.vhost(broker_admin(infra.amqp_url)))
        _run_users_sh(vhost, prefix)
        stack.callback(_delete_users, broker, prefix)
        roles = stack.enter_context(database_roles(infra.database_url))
        deployed = {s.module: s for s in services.values() if s.module != "migrate"}
        system = RunningSystem(
            admin_in(infra.amqp_url, vhost),
            roles.admin_url,
            logs,
            prefix="bin",
            services=tuple(m for m in ORDER if m in deployed),
            exact_env=True,
        )
        # Compose's names for the services, the broker and the database, on this machine.
        addresses = {
            f"http://{name}:8000": system.url(s.module)
            for name, s in services.items()
            if s.module in deployed
        }
        broker_here = urlsplit(infra.amqp_url)
        database_here = urlsplit(roles.admin_url)

        def here(env: dict[str, str]) -> dict[str, str]:
            env = dict(env)
            if "BIN_AMQP_URL" in env:
                user = urlsplit(env["BIN_AMQP_URL"]).username or ""
                env["BIN_AMQP_URL"] = with_location(
                    env["BIN_AMQP_URL"],
                    host=broker_here.hostname or "127.0.0.1",
                    port=broker_here.port or 5672,
                    path=f"/{vhost}",
                    user=prefix + user.removeprefix("bin-"),
                )
            if "BIN_DATABASE_URL" in env:
                role = urlsplit(env["BIN_DATABASE_URL"]).username or ""
                env["BIN_DATABASE_URL"] = with_location(
                    env["BIN_DATABASE_URL"],
                    host=database_here.hostname or "127.0.0.1",
                    port=database_here.port or 5432,
                    path=database_here.path,
                    user=roles.prefix + role.removeprefix("bin_"),
                )
            return env

        for module, service in deployed.items():
            system.service_env[module] = localise(
                here(service.env), system.ports[module], addresses, {}
            )
        _run_step(services["migrate"], localise(here(services["migrate"].env), 0, {}, {}))
        auth = AuthSettings(
            secret=COMPOSE_VARIABLES["BIN_AUTH_SECRET"],
            issuer=deployed["registry"].env["BIN_AUTH_ISSUER"],
        )

        def bearer(subject: str, roles_: list[Role], **scopes: Any) -> dict[str, str]:
            return {"Authorization": f"Bearer {mint_token(auth, subject, roles_, **scopes)}"}

        public = {
            deployed["intake"].env["BIN_DISPATCH_URL"]: system.url("dispatch"),
            _origin(COMPOSE_VARIABLES["BIN_PREFERENCES_BASE_URL"]): system.url("registry"),
        }
        yield Deployment(system, deployed, bearer, admin_in(infra.amqp_url, vhost), public)


def _run_users_sh(vhost: str, prefix: str) -> None:
    run_users_sh(
        vhost, prefix, {k: v for k, v in COMPOSE_VARIABLES.items() if k.endswith("_PASSWORD")}
    )


def _delete_users(broker: LocalBroker, prefix: str) -> None:
    for user in broker.run("list_users").splitlines():
        name = user.split("\t")[0]
        if name.startswith(prefix):
            broker.run("delete_user", name)


async def test_the_compose_file_runs_as_written(infra: Infrastructure, tmp_path: Path) -> None:
    with compose_deployment(infra, tmp_path) as deployment:
        try:
            _start(deployment)
            await _walk_through(deployment)
        finally:
            _stop_and_check_logs(deployment.system)
