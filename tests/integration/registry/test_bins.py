"""BINs over the registry's HTTP API: lifecycle to an active BIN, the charter's three
parties, areas and neighbours, lookup by address; on the real broker and database."""

from __future__ import annotations

import uuid

from aio_pika.abc import AbstractRobustConnection

from shared.auth import Role
from shared.events import BinStatusChanged, Visibility
from tests.helpers import drain, eventually
from tests.integration.registry.conftest import OPERATOR, ZONE, Registry, bearer, coordinator
from tests.lifecycle import make_official

CHIEF = bearer("chief-1", Role.POLICE_CHIEF, police_zones=[ZONE])
OFFICER = bearer("officer-1", Role.MANDATED_OFFICER, police_zones=[ZONE])
MAYOR = bearer("mayor-1", Role.MAYOR, municipalities=["Leuven"])


async def test_a_bin_goes_from_proposed_to_active_with_every_party_signing(
    registry: Registry, amqp: AbstractRobustConnection
) -> None:
    channel = await amqp.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(
        registry.runtime.topology.exchange_name(Visibility.PUBLIC), "bin.status_changed.v1"
    )
    client = registry.client
    bin_id = await registry.new_bin()
    url = f"/bins/{bin_id}"
    assert (await client.get(url, headers=OPERATOR)).json()["status"] == "proposed"

    drafted = await client.post(
        f"{url}/status", json={"status": "charter_drafted"}, headers=OPERATOR
    )
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["missing_signatures"] == ["citizens", "police_zone", "municipality"]

    # Signing out of turn is refused: the charter is not signed until all three parties are.
    early = await client.post(f"{url}/status", json={"status": "charter_signed"}, headers=OPERATOR)
    assert early.status_code == 409
    assert "citizens, police_zone, municipality" in early.json()["detail"]

    for headers, signatory in (
        (coordinator(bin_id), "coordinator"),
        (OFFICER, "mandated_officer"),
        (CHIEF, "police_chief"),
        (MAYOR, "mayor"),
    ):
        signed = await client.post(
            f"{url}/charter/signatures", json={"signatory": signatory}, headers=headers
        )
        assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["status"] == "charter_signed"
    assert {s["signatory"]: s["signed_by"] for s in body["signatures"]} == {
        "coordinator": "coord-1",
        "mandated_officer": "officer-1",
        "police_chief": "chief-1",
        "mayor": "mayor-1",
    }

    no_reference = await client.post(
        url + "/status", json={"status": "submitted"}, headers=OPERATOR
    )
    assert no_reference.status_code == 422 and "fod_reference" in no_reference.json()["detail"]
    for step in (
        {"status": "submitted", "fod_reference": "BZ/VP/2026/0042"},
        {"status": "approved"},
        {"status": "active"},
    ):
        moved = await client.post(url + "/status", json=step, headers=OPERATOR)
        assert moved.status_code == 200, moved.text
    active = moved.json()
    assert active["status"] == "active"
    assert active["fod_reference"] == "BZ/VP/2026/0042"
    assert active["next_evaluation_due"] is not None

    evaluated = await client.post(
        f"{url}/evaluations", json={"held_on": "2027-02-01"}, headers=OPERATOR
    )
    assert evaluated.json()["next_evaluation_due"] == "2028-02-01"

    # Every step was published as a public event, through the outbox.
    seen: list[str] = []

    async def all_published() -> bool:
        for message in await drain(channel, probe.name):
            event = BinStatusChanged.model_validate_json(message.body)
            if str(event.data.bin_id) == bin_id:
                seen.append(event.data.status.value)
        return len(seen) >= 5

    await eventually(all_published)
    assert seen == ["charter_drafted", "charter_signed", "submitted", "approved", "active"]


async def test_an_illegal_step_is_refused_with_the_possible_ones(registry: Registry) -> None:
    bin_id = await registry.new_bin()
    refused = await registry.client.post(
        f"/bins/{bin_id}/status", json={"status": "active"}, headers=OPERATOR
    )
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "proposed cannot become active" in detail and "charter_drafted" in detail


async def test_signatures_are_personal_and_scoped(registry: Registry) -> None:
    bin_id = await registry.new_bin()
    client = registry.client
    await client.post(
        f"/bins/{bin_id}/status", json={"status": "charter_drafted"}, headers=OPERATOR
    )
    other_zone_chief = bearer("chief-2", Role.POLICE_CHIEF, police_zones=["Brussel"])
    for headers, signatory in (
        (other_zone_chief, "police_chief"),
        (bearer("admin", Role.ADMIN), "mayor"),  # an admin cannot sign for the mayor
        (coordinator(str(uuid.uuid4())), "coordinator"),  # another BIN's coordinator
        (OPERATOR, "mandated_officer"),
    ):
        refused = await client.post(
            f"/bins/{bin_id}/charter/signatures", json={"signatory": signatory}, headers=headers
        )
        assert refused.status_code == 403, (signatory, refused.text)
    twice = [
        await client.post(
            f"/bins/{bin_id}/charter/signatures", json={"signatory": "mayor"}, headers=MAYOR
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in twice] == [201, 409]


async def test_another_zone_cannot_run_the_bin(registry: Registry) -> None:
    bin_id = await registry.new_bin()
    elsewhere = bearer("op-2", Role.OPERATOR, police_zones=["Brussel"])
    moved = await registry.client.post(
        f"/bins/{bin_id}/status", json={"status": "charter_drafted"}, headers=elsewhere
    )
    assert moved.status_code == 403
    created = await registry.client.post(
        "/bins",
        json={
            "name": "x",
            "kind": "bin",
            "municipality": "Leuven",
            "police_zone": ZONE,
            "communication_plan": {
                "urgent_channels": ["sms"],
                "news_channels": ["email"],
                "languages": ["nl"],
            },
        },
        headers=elsewhere,
    )
    assert created.status_code == 403
    assert (await registry.client.get(f"/bins/{bin_id}")).status_code == 401


async def test_an_address_finds_its_bin_and_the_neighbours(registry: Registry) -> None:
    street = f"Teststraat {uuid.uuid4().hex[:8]}"
    odd = await registry.new_bin(
        streets=[{"street": street, "from_number": 1, "to_number": 99, "parity": "odd"}]
    )
    even = await registry.new_bin(
        kind="bin_z", streets=[{"street": street, "from_number": 2, "parity": "even"}]
    )
    area = await registry.client.put(
        f"/bins/{odd}/area",
        json={"streets": [{"street": street, "from_number": 1, "to_number": 99, "parity": "odd"}],
              "neighbour_ids": [even]},
        headers=OPERATOR,
    )  # fmt: skip
    assert area.status_code == 200, area.text
    assert area.json()["neighbour_ids"] == [even]
    # Adjacency goes both ways.
    assert (await registry.client.get(f"/bins/{even}", headers=OPERATOR)).json()[
        "neighbour_ids"
    ] == [odd]

    async def lookup(number: str) -> list[dict[str, object]]:
        response = await registry.client.get(
            "/bins/lookup/by-address",
            params={"municipality": "leuven", "street": street.upper(), "house_number": number},
            headers=OPERATOR,
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, object]] = response.json()
        return found

    [hit] = await lookup("17")
    assert hit["bin_id"] == odd and hit["neighbour_ids"] == [even] and hit["status"] == "proposed"
    assert [b["bin_id"] for b in await lookup("18")] == [even]
    assert await lookup("101") == []

    unknown = await registry.client.put(
        f"/bins/{odd}/area",
        json={"streets": [], "neighbour_ids": [str(uuid.uuid4())]},
        headers=OPERATOR,
    )
    assert unknown.status_code == 422 and "no BIN with id" in unknown.json()["detail"]


async def test_charter_changes_after_signing_are_flagged_for_the_fod_and_exported(
    registry: Registry,
) -> None:
    client = registry.client
    bin_id = await registry.new_bin()
    url = f"/bins/{bin_id}/charter"
    partners = [
        {"party": "citizens", "role": "coordinator", "full_name": "An Peeters",
         "email": "an@voorbeeld.be"},
        {"party": "police_zone", "role": "mandated officer", "full_name": "Inspecteur Claes"},
    ]  # fmt: skip
    drafted = await client.put(
        url,
        json={"partners": partners, "budget_plan": [
            {"item": "SMS", "amount_eur": 300, "paid_by": "municipality"}]},
        headers=OPERATOR,
    )  # fmt: skip
    assert drafted.status_code == 200, drafted.text
    # While the BIN is a proposal the charter is a draft: changes are not for the FOD.
    assert {c["to_report"] for c in drafted.json()["changes"]} == {False}
    await make_official(client, "", bin_id, ZONE, "Leuven", OPERATOR)
    changed = await client.put(
        url,
        json={"budget_plan": [{"item": "SMS", "amount_eur": 450, "paid_by": "municipality"}]},
        headers=OPERATOR,
    )
    to_report = [c for c in changed.json()["changes"] if c["to_report"]]
    assert [(c["section"], c["after"][0]["amount_eur"]) for c in to_report] == [
        ("budget_plan", 450.0)
    ]
    export = (await client.get(f"{url}/changes/to-report", headers=OPERATOR)).json()
    assert export["to"].startswith("FOD Binnenlandse Zaken")
    assert [c["change_id"] for c in export["changes"]] == [to_report[0]["change_id"]]
    assert export["bin"]["fod_reference"] == "BZ/2026/1"
    # Someone outside the BIN does not see the partners' contact details.
    elsewhere = bearer("op-2", Role.OPERATOR, police_zones=["Brussel"])
    assert (await client.get(url, headers=elsewhere)).status_code == 403
    reported = await client.post(
        f"{url}/changes/reported",
        json={"change_ids": [to_report[0]["change_id"]], "fod_reference": "BZ/VP/2026/77"},
        headers=OPERATOR,
    )
    assert reported.status_code == 200, reported.text
    assert (await client.get(f"{url}/changes/to-report", headers=OPERATOR)).json()["changes"] == []
    twice = await client.post(
        f"{url}/changes/reported",
        json={"change_ids": [to_report[0]["change_id"]], "fod_reference": "x"},
        headers=OPERATOR,
    )
    assert twice.status_code == 409


async def test_a_coordinator_is_appointed_only_after_a_passed_police_screening(
    registry: Registry,
) -> None:
    client = registry.client
    bin_id = await registry.new_bin()
    appointment = {"subject": "kc-anna", "role": "coordinator", "bin_id": bin_id}
    unscreened = await client.post("/roles", json=appointment, headers=OPERATOR)
    assert unscreened.status_code == 409 and "screening" in unscreened.json()["detail"]

    screening = {"subject": "kc-anna", "screened_on": "2026-11-02", "passed": True}
    minor = await client.post(
        f"/bins/{bin_id}/screenings", json={**screening, "birth_date": "2012-01-01"},
        headers=OPERATOR,
    )  # fmt: skip
    assert minor.status_code == 422 and "18 or older" in minor.json()["detail"]
    coordinator_token = coordinator(bin_id)
    not_police = await client.post(
        f"/bins/{bin_id}/screenings", json={**screening, "birth_date": "1980-01-01"},
        headers=coordinator_token,
    )  # fmt: skip
    assert not_police.status_code == 403
    failed = await client.post(
        f"/bins/{bin_id}/screenings",
        json={**screening, "birth_date": "1980-01-01", "passed": False},
        headers=OPERATOR,
    )
    assert failed.status_code == 201
    assert (await client.post("/roles", json=appointment, headers=OPERATOR)).status_code == 409

    passed = await client.post(
        f"/bins/{bin_id}/screenings", json={**screening, "birth_date": "1980-01-01"},
        headers=OPERATOR,
    )  # fmt: skip
    assert passed.status_code == 201 and passed.json()["screened_by"] == "op-1"
    appointed = await client.post("/roles", json=appointment, headers=OPERATOR)
    assert appointed.status_code == 201, appointed.text
    claims = (await client.get("/roles/kc-anna/claims", headers=bearer("kc-anna"))).json()
    assert claims["roles"] == ["coordinator"] and claims["bin_ids"] == [bin_id]
