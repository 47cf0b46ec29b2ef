"""Members over the registry's HTTP API: eligibility, the SMS subsidy per housing unit, the
coordinator's scope, CSV import and export, GDPR export and erasure; real broker and
database."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

from aio_pika.abc import AbstractRobustConnection

from shared.events import MemberChanged, MemberErased, MemberRegistered, Visibility
from tests.helpers import drain, eventually
from tests.integration.registry.conftest import (
    ADMIN,
    OPERATOR,
    Registry,
    coordinator,
    member_body,
)
from tests.unit.registry.test_member_csv import HEADER


async def test_an_eligible_member_joins_and_dispatch_is_told_privately(
    registry: Registry, amqp: AbstractRobustConnection
) -> None:
    channel = await amqp.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(
        registry.runtime.topology.exchange_name(Visibility.PRIVATE), "member.registered.v1"
    )
    bin_id = await registry.new_bin()
    created = await registry.client.post(
        f"/bins/{bin_id}/members",
        json=member_body(
            7,
            channels=["email"],
            quiet_from="22:00",
            quiet_until="07:00",
            paused_until="2026-12-24T00:00:00+01:00",
        ),
        headers=coordinator(bin_id),
    )
    assert created.status_code == 201, created.text
    member_id = created.json()["member_id"]

    async def published() -> MemberRegistered | None:
        for message in await drain(channel, probe.name):
            event = MemberRegistered.model_validate_json(message.body)
            if str(event.data.member_id) == member_id:
                return event
        return None

    event = await eventually(published)
    assert event.data.contact.phones == ["+32470000007"]
    assert [c.value for c in event.data.channels] == ["email"]
    assert (str(event.data.quiet_from), str(event.data.quiet_until)) == ("22:00:00", "07:00:00")
    assert event.data.paused_until == datetime(2026, 12, 23, 23, 0, tzinfo=UTC)


async def test_each_eligibility_rule_has_its_reason(registry: Registry) -> None:
    bin_id = await registry.new_bin()
    cases = {
        "birth_date: a member must be 18 or older": member_body(birth_date="2012-06-01"),
        "address: not in the BIN's area": member_body(
            address={"street": "Tiensestraat", "house_number": "3", "municipality": "Leuven"}
        ),
        "registration_signed_on: lies in the future": member_body(
            registration_signed_on="2099-01-01"
        ),
    }
    for reason, body in cases.items():
        refused = await registry.client.post(
            f"/bins/{bin_id}/members", json=body, headers=coordinator(bin_id)
        )
        assert refused.status_code == 422, refused.text
        assert any(r.startswith(reason) for r in refused.json()["reasons"]), refused.json()
    unsigned = member_body()
    del unsigned["house_rules_accepted_on"]
    refused = await registry.client.post(
        f"/bins/{bin_id}/members", json=unsigned, headers=coordinator(bin_id)
    )
    assert refused.status_code == 422
    assert ["body", "house_rules_accepted_on"] in [e["loc"] for e in refused.json()["errors"]]
    bad_phone = member_body(phones=["12345"])
    refused = await registry.client.post(
        f"/bins/{bin_id}/members", json=bad_phone, headers=coordinator(bin_id)
    )
    assert refused.status_code == 422 and "phone" in refused.text


async def test_one_subsidised_sms_member_per_housing_unit(registry: Registry) -> None:
    bin_id = await registry.new_bin(one_sms_per_housing_unit=True)
    same_unit = {
        "street": "Abdijstraat",
        "house_number": "12",
        "box": "2",
        "municipality": "Leuven",
    }
    results = []
    for n in (1, 2):
        created = await registry.client.post(
            f"/bins/{bin_id}/members",
            json=member_body(n, address=same_unit),
            headers=coordinator(bin_id),
        )
        assert created.status_code == 201, created.text
        results.append(created.json())
    assert [r["subsidised_sms"] for r in results] == [True, False]
    assert "housing unit" in results[1]["notices"][0]
    # Another box of the same house is another housing unit.
    other = await registry.client.post(
        f"/bins/{bin_id}/members",
        json=member_body(3, address={**same_unit, "box": "3"}),
        headers=coordinator(bin_id),
    )
    assert other.json()["subsidised_sms"] is True


async def test_a_coordinator_sees_and_edits_only_their_own_bins_members(
    registry: Registry,
) -> None:
    mine, theirs = await registry.new_bin(), await registry.new_bin()
    member = (
        await registry.client.post(
            f"/bins/{theirs}/members", json=member_body(4), headers=coordinator(theirs, "c-2")
        )
    ).json()
    me = coordinator(mine)
    client = registry.client
    assert (await client.get(f"/bins/{theirs}/members", headers=me)).status_code == 403
    assert (
        await client.post(f"/bins/{theirs}/members", json=member_body(5), headers=me)
    ).status_code == 403
    assert (await client.get(f"/members/{member['member_id']}", headers=me)).status_code == 404
    assert (
        await client.patch(f"/members/{member['member_id']}", json={"language": "fr"}, headers=me)
    ).status_code == 404
    assert (await client.delete(f"/members/{member['member_id']}", headers=me)).status_code == 404
    # The police run BINs but keep no member lists.
    assert (await client.get(f"/bins/{theirs}/members", headers=OPERATOR)).status_code == 403
    # Their own coordinator does.
    listed = await client.get(
        f"/bins/{theirs}/members", params={"search": "nummer4"}, headers=coordinator(theirs)
    )
    assert [m["member_id"] for m in listed.json()] == [member["member_id"]]


def _csv(rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


GOOD = "An Peeters;1980-05-17;Abdijstraat;1;;3010;Leuven;0470 11 11 11;an@v.be;nl;2026-01-10;1;2026-01-10"  # noqa: E501
GOOD2 = "Bo Claes;02/03/1990;Abdijstraat;2;;3010;Leuven;;bo@v.be;fr;2026-01-10;1;2026-01-10"
MINOR = "Cas Jacobs;2015-01-01;Abdijstraat;3;;3010;Leuven;0470 11 11 13;;nl;2026-01-10;1;2026-01-10"
OUTSIDE = "Dirk Maes;1970-01-01;Naamsestraat;3;;3000;Leuven;;d@v.be;nl;2026-01-10;1;2026-01-10"


async def test_a_csv_import_reports_each_bad_row_and_imports_nothing_unless_asked(
    registry: Registry,
) -> None:
    bin_id = await registry.new_bin()
    headers = {**coordinator(bin_id), "content-type": "text/csv"}
    url = f"/bins/{bin_id}/members/import"
    body = _csv([GOOD, MINOR, GOOD2, OUTSIDE, GOOD])

    refused = await registry.client.post(url, content=body, headers=headers)
    assert refused.status_code == 422, refused.text
    report = refused.json()
    assert report["imported"] is False and report["accepted"] == 2 and report["rows"] == 5
    assert {r["row"]: r["reasons"][0].split(":")[0] for r in report["rejected"]} == {
        3: "birth_date",
        5: "address",
        6: "the same member as row 2",
    }
    assert (await registry.client.get(f"/bins/{bin_id}/members", headers=headers)).json() == []

    partial = await registry.client.post(
        url, params={"partial": True}, content=body, headers=headers
    )
    assert partial.status_code == 200, partial.text
    assert partial.json()["imported"] is True and len(partial.json()["member_ids"]) == 2

    exported = await registry.client.get(f"/bins/{bin_id}/members/export.csv", headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["full_name"] for r in rows) == ["An Peeters", "Bo Claes"]
    assert {r["birth_date"] for r in rows} == {"1980-05-17", "1990-03-02"}

    broken = await registry.client.post(url, content=b"naam,adres\nAn,x\n", headers=headers)
    assert broken.status_code == 422 and "lacks the columns" in broken.json()["detail"]


async def test_gdpr_export_change_and_erasure(
    registry: Registry, amqp: AbstractRobustConnection
) -> None:
    channel = await amqp.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(registry.runtime.topology.exchange_name(Visibility.PUBLIC), "member.erased.v1")
    bin_id = await registry.new_bin()
    me = coordinator(bin_id)
    member_id = (
        await registry.client.post(f"/bins/{bin_id}/members", json=member_body(9), headers=me)
    ).json()["member_id"]
    export = (await registry.client.get(f"/members/{member_id}", headers=me)).json()
    assert export["address"]["street"] == "Abdijstraat"
    assert export["birth_date"] == "1975-03-02"
    assert export["house_rules_version"] == "2024-1"

    changed = await registry.client.patch(
        f"/members/{member_id}",
        json={"language": "fr", "address": {"street": "Tiensestraat", "house_number": "1",
                                            "municipality": "Leuven"}},
        headers=me,
    )  # fmt: skip
    assert changed.status_code == 422  # moving out of the area is not a change but leaving
    changed = await registry.client.patch(
        f"/members/{member_id}", json={"language": "fr", "phones": ["0470 99 99 99"]}, headers=me
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "fr" and changed.json()["phones"] == ["+32470999999"]

    withdrawn = await registry.client.post(f"/members/{member_id}/consent-withdrawal", headers=me)
    assert withdrawn.status_code == 204
    assert (await registry.client.get(f"/members/{member_id}", headers=ADMIN)).status_code == 404
    async with registry.runtime.pool.acquire() as conn:
        tombstone = await conn.fetchrow(
            "SELECT * FROM member_erasure WHERE member_id = $1", uuid.UUID(member_id)
        )
    assert tombstone is not None and tombstone["reason"] == "consent_withdrawn"
    assert set(dict(tombstone)) == {"member_id", "bin_id", "reason", "erased_at"}

    async def erased() -> bool:
        return any(
            str(MemberErased.model_validate_json(m.body).data.member_id) == member_id
            for m in await drain(channel, probe.name)
        )

    await eventually(erased)


async def test_sanctions_step_by_step_suspension_reaches_dispatch_and_removal_is_appealable(
    registry: Registry, amqp: AbstractRobustConnection
) -> None:
    channel = await amqp.channel()
    probe = await channel.declare_queue(exclusive=True)
    topology = registry.runtime.topology
    await probe.bind(topology.exchange_name(Visibility.PRIVATE), "member.changed.v1")
    await probe.bind(topology.exchange_name(Visibility.PUBLIC), "member.left.v1")
    bin_id = await registry.new_bin()
    me = coordinator(bin_id)
    member_id = (
        await registry.client.post(f"/bins/{bin_id}/members", json=member_body(21), headers=me)
    ).json()["member_id"]
    url = f"/members/{member_id}/sanctions"

    early = await registry.client.post(
        url, json={"kind": "removal", "reason": "te vroeg"}, headers=me
    )
    assert early.status_code == 409 and "step by step" in early.json()["detail"]
    steps = [
        {"kind": "reprimand", "reason": "berichten doorgestuurd naar sociale media"},
        {"kind": "suspension", "reason": "opnieuw", "until": "2099-01-01T00:00:00+00:00"},
        {"kind": "removal", "reason": "derde keer"},
    ]
    decided = []
    for step in steps:
        response = await registry.client.post(url, json=step, headers=me)
        assert response.status_code == 201, response.text
        decided.append(response.json())
    assert decided[0]["decided_by"] == "coord-1"
    assert decided[1]["until"].startswith("2099-01-01")
    removal = decided[2]
    assert removal["appeal_deadline"] is not None  # three weeks from the decision

    seen: dict[str, bytes] = {}

    async def both_published() -> bool:
        for message in await drain(channel, probe.name):
            seen[message.routing_key or ""] = message.body
        return {"member.changed.v1", "member.left.v1"} <= set(seen)

    await eventually(both_published)
    changed = MemberChanged.model_validate_json(seen["member.changed.v1"])
    assert changed.data.suspended_until is not None and changed.data.suspended_until.year == 2099

    appealed = await registry.client.post(
        f"{url}/{removal['sanction_id']}/appeal", json={"reason": "ik was het niet"}, headers=me
    )
    assert appealed.status_code == 200 and appealed.json()["appealed_at"] is not None
    again = await registry.client.post(
        f"{url}/{removal['sanction_id']}/appeal", json={"reason": "nog eens"}, headers=me
    )
    assert again.status_code == 409
    export = (await registry.client.get(f"/members/{member_id}", headers=me)).json()
    assert export["standing"] == "removed"
    assert (
        await registry.client.patch(f"/members/{member_id}", json={"language": "fr"}, headers=me)
    ).status_code == 409
