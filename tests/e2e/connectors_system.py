"""The whole system with the channel connectors in front of real providers, for the
end-to-end connector stories: every service a process (``services.connectors`` too), the
gateway simulator standing in for voice and push only, SMS and e-mail going to real peers
(the SMSC simulator, Kannel, an SMTP server, Postfix).

Each system gets a database of its own (the connectors' ledger, dispatch's projection and
the registry's members start empty), so what a peer counts is this system's doing. The
story steps go through the services' HTTP APIs: a BIN registered with its plan, made
active, its members imported as one CSV, an alert issued through intake and followed on
dispatch's progress endpoint.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.connectors.domain.kannel_reports import mo_url
from tests.e2e.api_client import OPERATOR, activate, coordinator_of
from tests.e2e.system import SERVICES, RunningSystem
from tests.helpers import eventually
from tests.infrastructure import isolated_database
from tests.peers.kannel import KannelGateway, SmppLink
from tests.peers.mail import HOST
from tests.peers.smsc import SmscSimulator

WITH_CONNECTORS = (*SERVICES, "connectors")
SMPP = "smsc"
KANNEL = "kannel"
SMTP = "mail"
# The members' mail domain (a real TLD: the registry refuses special-use ones such as
# .test) and the VERP return paths' domain.
MEMBER_DOMAIN = "voorbeeld.be"
BOUNCE_DOMAIN = "bounces.bin-kessel-lo.be"
SENDER = "BIN Kessel-Lo <meldingen@bin-kessel-lo.be>"
SMSC_SYSTEM_ID = "bin"
SMSC_PASSWORD = "secret"  # the simulator takes any bind


# ── providers, as BIN_CONNECTOR_PROVIDERS lists them ─────────────────────────────────────


def smpp_provider(smsc: SmscSimulator) -> dict[str, Any]:
    return {
        "name": SMPP,
        "kind": "smpp",
        "host": smsc.host,
        "port": smsc.smpp_port,
        "system_id": SMSC_SYSTEM_ID,
        "password": SMSC_PASSWORD,
        "binds": 2,
        "window": 50,
        "reconnect_max_seconds": 1.0,
    }


def kannel_link(smsc: SmscSimulator) -> SmppLink:
    """Kannel's bearerbox bound over SMPP to the SMSC simulator."""
    return SmppLink(smsc.host, smsc.smpp_port, SMSC_SYSTEM_ID, SMSC_PASSWORD)


def kannel_provider(kannel: KannelGateway, callback_base_url: str) -> dict[str, Any]:
    return kannel.provider(callback_base_url, KANNEL, concurrency=50, request_timeout_seconds=10)


def smtp_provider(
    port: int, *, report_timeout_seconds: float, bounce_listen_port: int | None = None
) -> dict[str, Any]:
    """SMTP to ``127.0.0.1:port`` without TLS. No report within ``report_timeout_seconds``
    makes an accepted e-mail delivered: short where no bounce can come (the recipient
    server answers at RCPT), long enough for Postfix's DSN where one does."""
    return {
        "name": SMTP,
        "kind": "smtp",
        "host": HOST,
        "port": port,
        "security": "none",
        "sender": SENDER,
        "return_path_domain": BOUNCE_DOMAIN,
        "bounce_listen_host": HOST,
        "bounce_listen_port": bounce_listen_port,
        "local_hostname": "connectors.bin-kessel-lo.be",
        "timeout_seconds": 10,
        "report_timeout_seconds": report_timeout_seconds,
    }


# ── the system ───────────────────────────────────────────────────────────────────────────


@contextmanager
def connectors_system(
    admin_database_url: str, amqp_url: str, logs: Path
) -> Iterator[RunningSystem]:
    """A system with the connectors service on a database of its own, not started yet
    (its ports are chosen, so peers can be told the connector's URL first); stopped, its
    topology and database removed afterwards. Start it with :func:`start`."""
    with isolated_database(admin_database_url) as database_url:
        # Six services and the peers start at once on a small machine: time to be ready.
        system = RunningSystem(
            amqp_url, database_url, logs, services=WITH_CONNECTORS, ready_timeout=90
        )
        system.service_env = {
            # The simulator answers voice and push only: SMS and e-mail are the connectors'.
            "gateway_simulator": {"BIN_GATEWAY_CHANNELS": '["voice", "push"]'},
            # Members' preferences links point at the registry's page.
            "dispatch": {"BIN_PREFERENCES_BASE_URL": f"{system.url('registry')}/preferences"},
        }
        try:
            yield system
        finally:
            system.stop()
            system.delete_topology()


def start(system: RunningSystem, providers: Sequence[dict[str, Any]]) -> None:
    """Migrates and starts every service, the connectors with these providers, and waits
    until each is ready."""
    system.service_env["connectors"] = {
        "BIN_CONNECTOR_PROVIDERS": json.dumps(list(providers)),
        "BIN_CONNECTOR_SWEEP_INTERVAL": "0.5",
    }
    system.migrate()
    system.start()


def kannel_mo_url(system: RunningSystem) -> str:
    """The sms-service get-url of Kannel: the connector's own MO route."""
    return mo_url(system.url("connectors"), KANNEL)


# ── members ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Member:
    n: int
    phone: str | None
    email: str | None
    language: str

    @property
    def smsc_number(self) -> str:
        """The number as the SMSC simulator files it (TON 1, no "+")."""
        assert self.phone is not None
        return self.phone.removeprefix("+")


def members(
    count: int,
    block: int,
    *,
    phones: bool = True,
    emails: bool = True,
    refused_email: Sequence[int] = (),
) -> list[Member]:
    """``count`` members with mobile numbers ``+3247<block><6 digits>`` (each test its own
    block) and addresses ``lid<n>.<block>@voorbeeld.be``, Dutch and French in turn;
    addresses of the members in ``refused_email`` start with "unknown", which the
    MailServer refuses with 550 at RCPT."""
    assert 0 <= block <= 9
    found = []
    for n in range(count):
        local = f"{'unknown.' if n in refused_email else ''}lid{n}.{block}"
        found.append(
            Member(
                n=n,
                phone=f"+3247{block}{n:06d}" if phones else None,
                email=f"{local}@{MEMBER_DOMAIN}" if emails else None,
                language="nl" if n % 2 == 0 else "fr",
            )
        )
    return found


def members_csv(listed: Sequence[Member]) -> str:
    """The member list as a coordinator imports it (``services/registry/member_csv.py``):
    everyone at a house number of their own in the BIN's street, asking for SMS."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["full_name", "birth_date", "street", "house_number", "municipality", "phone",
         "email", "language", "subsidised_sms", "registration_signed_on",
         "house_rules_version", "house_rules_accepted_on"]
    )  # fmt: skip
    for m in listed:
        writer.writerow(
            [f"Lid Nummer{m.n}", "1980-05-17", "Abdijstraat", str(m.n + 1), "Leuven",
             m.phone or "", m.email or "", m.language, "yes", "2026-01-10", "2024-1",
             "2026-01-10"]
        )  # fmt: skip
    return out.getvalue()


# ── story steps over the APIs ────────────────────────────────────────────────────────────


async def register_bin(
    client: httpx.AsyncClient,
    system: RunningSystem,
    listed: Sequence[Member],
    urgent_channels: Sequence[str],
    news_channels: Sequence[str] = ("email",),
) -> tuple[str, dict[int, str]]:
    """A BIN in the Abdijstraat with this plan, made active, its members imported from one
    CSV file; waits until dispatch's projection has them all. The BIN's id and each
    member's id (by ``Member.n``)."""
    registry = system.url("registry")
    created = await client.post(
        f"{registry}/bins",
        json={
            "name": "Kessel-Lo Noord",
            "kind": "bin",
            "municipality": "Leuven",
            "police_zone": "Leuven",
            "communication_plan": {
                "urgent_channels": list(urgent_channels),
                "news_channels": list(news_channels),
                "languages": ["nl", "fr"],
            },
            "streets": [{"street": "Abdijstraat"}],
        },
        headers=OPERATOR,
    )
    assert created.status_code == 201, created.text
    bin_id: str = created.json()["bin_id"]
    await activate(client, system, bin_id)
    imported = await client.post(
        f"{registry}/bins/{bin_id}/members/import",
        content=members_csv(listed).encode(),
        headers={**coordinator_of(bin_id), "Content-Type": "text/csv"},
        timeout=120,
    )
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["accepted"] == len(listed) and report["imported"], report
    ids = dict(zip((m.n for m in listed), report["member_ids"], strict=True))
    await eventually(lambda: projected(system, bin_id, len(listed)), timeout=120, interval=0.5)
    return bin_id, ids


async def projected(system: RunningSystem, bin_id: str, count: int) -> bool:
    """Whether dispatch's recipient projection holds the BIN's ``count`` members (read in
    dispatch's schema: a wait for the registry's events, not a result under test)."""
    conn = await asyncpg.connect(system.database_url)
    try:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM dispatch.membership WHERE bin_id = $1::uuid", bin_id
        )
    finally:
        await conn.close()
    return found == count


async def issue_alert(
    client: httpx.AsyncClient, system: RunningSystem, bin_id: str, texts: dict[str, str]
) -> str:
    """An operator's alert through intake's API; dispatch's progress URL for it."""
    accepted = await client.post(
        f"{system.url('intake')}/alerts",
        headers=OPERATOR,
        json={"bin_ids": [bin_id], "texts": texts},
    )
    assert accepted.status_code == 202, accepted.text
    progress_url: str = accepted.json()["progress_url"]
    return progress_url


async def follow(
    client: httpx.AsyncClient, progress_url: str, targeted: int, timeout: float
) -> dict[str, Any]:
    """Dispatch's progress once complete with ``targeted`` members: the fan-out dispatched
    and every member's delivery final (a member moved to a next channel is pending until
    that one is)."""
    seen: list[dict[str, Any]] = []

    async def complete() -> dict[str, Any] | None:
        response = await client.get(progress_url, headers=OPERATOR)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        seen.append(body)
        return body if body["complete"] and body["targeted"] == targeted else None

    try:
        return await eventually(complete, timeout=timeout, interval=0.5)
    except AssertionError as failed:
        raise AssertionError(f"progress never complete: {seen[-1] if seen else None}") from failed
