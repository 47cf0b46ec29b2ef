"""The registry's SQL: BINs with their area, lifecycle and signatures; members; roles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.registry.admission import Admission, BinRules
from services.registry.domain.lifecycle import Signatory, missing_parties
from services.registry.schemas import (
    AddressIn,
    Bin,
    BinCreate,
    CoveringBin,
    MemberCreate,
    MemberExport,
    Signature,
    StreetSegmentIn,
)
from shared.areas import Parity, StreetSegment, normalise_name
from shared.database import Connection
from shared.events import BinStatus

INSERT_BIN = """
INSERT INTO bin (bin_id, name, kind, municipality, police_zone, communication_plan,
                 one_sms_per_housing_unit)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


BIN_COLUMNS = """
bin_id, name, kind, municipality, police_zone, communication_plan, one_sms_per_housing_unit,
status, status_changed_at, fod_reference, last_evaluated_on, next_evaluation_due, created_at
"""


SELECT_BIN = f"SELECT {BIN_COLUMNS} FROM bin WHERE bin_id = $1"


SELECT_BIN_FOR_UPDATE = f"SELECT {BIN_COLUMNS} FROM bin WHERE bin_id = $1 FOR UPDATE"


SELECT_STREETS = """
SELECT street, from_number, to_number, parity FROM bin_street WHERE bin_id = $1 ORDER BY position
"""


DELETE_STREETS = "DELETE FROM bin_street WHERE bin_id = $1"


INSERT_STREET = """
INSERT INTO bin_street (bin_id, position, street, street_key, from_number, to_number, parity)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


SELECT_NEIGHBOURS = "SELECT neighbour_id FROM bin_neighbour WHERE bin_id = $1 ORDER BY 1"


DELETE_NEIGHBOURS = "DELETE FROM bin_neighbour WHERE bin_id = $1 OR neighbour_id = $1"


INSERT_NEIGHBOURS = """
INSERT INTO bin_neighbour (bin_id, neighbour_id)
SELECT $1, n FROM unnest($2::uuid[]) AS n
UNION SELECT n, $1 FROM unnest($2::uuid[]) AS n
ON CONFLICT DO NOTHING
"""


SELECT_SIGNATURES = """
SELECT signatory, signed_by, signed_at FROM charter_signature WHERE bin_id = $1
ORDER BY signed_at
"""


INSERT_SIGNATURE = """
INSERT INTO charter_signature (bin_id, signatory, signed_by) VALUES ($1, $2, $3)
"""


UPDATE_STATUS = """
UPDATE bin SET status = $2, status_changed_at = now(),
               fod_reference = coalesce($3, fod_reference),
               next_evaluation_due = CASE WHEN $2 = 'active' AND next_evaluation_due IS NULL
                                          THEN (now() + interval '1 year')::date
                                          ELSE next_evaluation_due END
WHERE bin_id = $1
RETURNING status_changed_at
"""


INSERT_STATUS_HISTORY = """
INSERT INTO bin_status_history (bin_id, status, changed_by, note) VALUES ($1, $2, $3, $4)
"""


RECORD_EVALUATION = """
UPDATE bin SET last_evaluated_on = $2, next_evaluation_due = $3 WHERE bin_id = $1
"""


SELECT_CANDIDATE_SEGMENTS = """
SELECT s.bin_id, s.street, s.from_number, s.to_number, s.parity
FROM bin_street s JOIN bin b ON b.bin_id = s.bin_id
WHERE s.street_key = $1 AND lower(b.municipality) = lower($2)
"""


MEMBER_COLUMNS = """
member_id, bin_id, full_name, birth_date, relation, street, house_number, box, postal_code,
municipality, phones, email, language, channels, subsidised_sms, registration_signed_on,
house_rules_version, house_rules_accepted_on, joined_at, updated_at, housing_unit,
sms_unit_claim, standing, suspended_until, sms_opted_out, quiet_from, quiet_until, paused_until,
digest_subscribed, push_subscription
"""


SELECT_MEMBER = f"SELECT {MEMBER_COLUMNS} FROM member WHERE member_id = $1"


SELECT_MEMBER_FOR_UPDATE = f"SELECT {MEMBER_COLUMNS} FROM member WHERE member_id = $1 FOR UPDATE"
# Search by name or e-mail, for the coordinator's member list; the pattern is a bind parameter.


SELECT_BIN_MEMBERS = f"""
SELECT {MEMBER_COLUMNS} FROM member
WHERE bin_id = $1 AND ($2::text IS NULL OR full_name ILIKE $2 OR email ILIKE $2)
ORDER BY full_name, member_id
LIMIT $3 OFFSET $4
"""


SELECT_CLAIMED_UNITS = """
SELECT sms_unit_claim FROM member WHERE bin_id = $1 AND sms_unit_claim IS NOT NULL
"""


UNIT_CLAIMED = "SELECT EXISTS (SELECT 1 FROM member WHERE bin_id = $1 AND sms_unit_claim = $2)"


MEMBER_INSERT_COLUMNS = (
    "member_id",
    "bin_id",
    "full_name",
    "birth_date",
    "relation",
    "street",
    "house_number",
    "box",
    "postal_code",
    "municipality",
    "housing_unit",
    "sms_unit_claim",
    "phones",
    "email",
    "language",
    "channels",
    "subsidised_sms",
    "registration_signed_on",
    "house_rules_version",
    "house_rules_accepted_on",
    "quiet_from",
    "quiet_until",
    "paused_until",
)


UPDATE_MEMBER = """
UPDATE member SET full_name = $2, relation = $3, street = $4, house_number = $5, box = $6,
       postal_code = $7, municipality = $8, housing_unit = $9, phones = $10, email = $11,
       language = $12, channels = $13, subsidised_sms = $14, sms_unit_claim = $15,
       quiet_from = $16, quiet_until = $17, paused_until = $18, digest_subscribed = $19,
       updated_at = now()
WHERE member_id = $1
"""


DELETE_MEMBER = "DELETE FROM member WHERE member_id = $1 RETURNING bin_id"
SET_SMS_OPT_OUT = """
UPDATE member SET sms_opted_out = $2, updated_at = now() WHERE member_id = $1
"""


INSERT_ERASURE = """
INSERT INTO member_erasure (member_id, bin_id, reason) VALUES ($1, $2, $3)
ON CONFLICT (member_id) DO NOTHING
"""


def _segment(row: Any) -> StreetSegment:
    return StreetSegment(row["street"], row["from_number"], row["to_number"], Parity(row["parity"]))


async def insert_bin(conn: Connection, bin_id: uuid.UUID, new: BinCreate) -> None:
    await conn.execute(
        INSERT_BIN,
        bin_id,
        new.name,
        new.kind.value,
        new.municipality,
        new.police_zone,
        new.communication_plan.model_dump(mode="json"),
        new.one_sms_per_housing_unit,
    )


async def bin_row(conn: Connection, bin_id: uuid.UUID, *, for_update: bool = False) -> Any:
    return await conn.fetchrow(SELECT_BIN_FOR_UPDATE if for_update else SELECT_BIN, bin_id)


async def streets(conn: Connection, bin_id: uuid.UUID) -> list[StreetSegment]:
    return [_segment(r) for r in await conn.fetch(SELECT_STREETS, bin_id)]


async def neighbours(conn: Connection, bin_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["neighbour_id"] for r in await conn.fetch(SELECT_NEIGHBOURS, bin_id)]


async def signatures(conn: Connection, bin_id: uuid.UUID) -> list[Signature]:
    return [Signature.model_validate(dict(r)) for r in await conn.fetch(SELECT_SIGNATURES, bin_id)]


async def get_bin(conn: Connection, bin_id: uuid.UUID) -> Bin | None:
    row = await bin_row(conn, bin_id)
    if row is None:
        return None
    signed = await signatures(conn, bin_id)
    return Bin(
        **dict(row),
        streets=[
            StreetSegmentIn(
                street=s.street, from_number=s.from_number, to_number=s.to_number, parity=s.parity
            )
            for s in await streets(conn, bin_id)
        ],
        neighbour_ids=await neighbours(conn, bin_id),
        signatures=signed,
        missing_signatures=missing_parties(s.signatory for s in signed),
    )


def rules_of(row: Any, area: list[StreetSegment]) -> BinRules:
    return BinRules(row["municipality"], area, row["one_sms_per_housing_unit"])


async def replace_streets(
    conn: Connection, bin_id: uuid.UUID, segments: Sequence[StreetSegmentIn]
) -> None:
    await conn.execute(DELETE_STREETS, bin_id)
    await conn.executemany(
        INSERT_STREET,
        [
            (
                bin_id,
                n,
                s.street,
                normalise_name(s.street),
                s.from_number,
                s.to_number,
                s.parity.value,
            )
            for n, s in enumerate(segments)
        ],
    )


async def replace_neighbours(
    conn: Connection, bin_id: uuid.UUID, neighbour_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Sets the BIN's neighbours (both ways); returns the ids that name no BIN."""
    wanted = sorted(set(neighbour_ids))
    found = await conn.fetch("SELECT bin_id FROM bin WHERE bin_id = ANY($1::uuid[])", wanted)
    unknown = sorted(set(wanted) - {r["bin_id"] for r in found})
    if unknown:
        return unknown
    await conn.execute(DELETE_NEIGHBOURS, bin_id)
    await conn.execute(INSERT_NEIGHBOURS, bin_id, wanted)
    return []


async def add_signature(
    conn: Connection, bin_id: uuid.UUID, signatory: Signatory, signed_by: str
) -> None:
    await conn.execute(INSERT_SIGNATURE, bin_id, signatory.value, signed_by)


async def change_status(
    conn: Connection,
    bin_id: uuid.UUID,
    status: BinStatus,
    by: str,
    note: str | None,
    fod_reference: str | None = None,
) -> Any:
    changed_at = await conn.fetchval(UPDATE_STATUS, bin_id, status.value, fod_reference)
    await conn.execute(INSERT_STATUS_HISTORY, bin_id, status.value, by, note)
    return changed_at


async def record_evaluation(conn: Connection, bin_id: uuid.UUID, held_on: Any, due: Any) -> None:
    await conn.execute(RECORD_EVALUATION, bin_id, held_on, due)


async def covering_bins(
    conn: Connection, municipality: str, street: str, house_number: str | None
) -> list[CoveringBin]:
    rows = await conn.fetch(SELECT_CANDIDATE_SEGMENTS, normalise_name(street), municipality)
    bin_ids = sorted(
        {r["bin_id"] for r in rows if _segment(r).covers(street, house_number)}, key=str
    )
    found = []
    for bin_id in bin_ids:
        row = await bin_row(conn, bin_id)
        found.append(
            CoveringBin(
                bin_id=bin_id,
                name=row["name"],
                kind=row["kind"],
                status=row["status"],
                neighbour_ids=await neighbours(conn, bin_id),
            )
        )
    return found


async def claimed_units(conn: Connection, bin_id: uuid.UUID) -> set[str]:
    return {r["sms_unit_claim"] for r in await conn.fetch(SELECT_CLAIMED_UNITS, bin_id)}


async def unit_claimed(conn: Connection, bin_id: uuid.UUID, unit: str) -> bool:
    return bool(await conn.fetchval(UNIT_CLAIMED, bin_id, unit))


def member_record(
    member_id: uuid.UUID, bin_id: uuid.UUID, new: MemberCreate, admission: Admission
) -> tuple[Any, ...]:
    """One row in the order of :data:`MEMBER_INSERT_COLUMNS`."""
    a = new.address
    return (
        member_id,
        bin_id,
        new.full_name,
        new.birth_date,
        new.relation.value,
        a.street,
        a.house_number,
        a.box,
        a.postal_code,
        a.municipality,
        admission.housing_unit,
        admission.sms_unit_claim,
        new.phones,
        new.email,
        new.language.value,
        [c.value for c in new.channels],
        admission.subsidised_sms,
        new.registration_signed_on,
        new.house_rules_version,
        new.house_rules_accepted_on,
        new.quiet_from,
        new.quiet_until,
        new.paused_until,
    )


async def insert_members(conn: Connection, records: Sequence[tuple[Any, ...]]) -> None:
    """COPY: one round trip for a whole import, however many rows."""
    await conn.copy_records_to_table("member", records=records, columns=MEMBER_INSERT_COLUMNS)


def _export(row: Any) -> MemberExport:
    address = None
    if row["street"] is not None:
        address = AddressIn(
            street=row["street"],
            house_number=row["house_number"],
            box=row["box"],
            postal_code=row["postal_code"],
            municipality=row["municipality"],
        )
    fields = {k: row[k] for k in MemberExport.model_fields if k != "address" and k in row}
    return MemberExport(address=address, **fields)


async def get_member(conn: Connection, member_id: uuid.UUID, *, for_update: bool = False) -> Any:
    return await conn.fetchrow(SELECT_MEMBER_FOR_UPDATE if for_update else SELECT_MEMBER, member_id)


async def export_member(conn: Connection, member_id: uuid.UUID) -> MemberExport | None:
    row = await get_member(conn, member_id)
    return _export(row) if row else None


async def bin_members(
    conn: Connection, bin_id: uuid.UUID, search: str | None, limit: int, offset: int
) -> list[MemberExport]:
    pattern = None if not search else "%" + search.replace("%", r"\%").replace("_", r"\_") + "%"
    return [
        _export(r) for r in await conn.fetch(SELECT_BIN_MEMBERS, bin_id, pattern, limit, offset)
    ]


async def update_member(conn: Connection, member_id: uuid.UUID, values: dict[str, Any]) -> None:
    await conn.execute(
        UPDATE_MEMBER,
        member_id,
        values["full_name"],
        values["relation"],
        values["street"],
        values["house_number"],
        values["box"],
        values["postal_code"],
        values["municipality"],
        values["housing_unit"],
        values["phones"],
        values["email"],
        values["language"],
        values["channels"],
        values["subsidised_sms"],
        values["sms_unit_claim"],
        values["quiet_from"],
        values["quiet_until"],
        values["paused_until"],
        values["digest_subscribed"],
    )


async def set_sms_opt_out(conn: Connection, member_id: uuid.UUID, opted_out: bool) -> None:
    await conn.execute(SET_SMS_OPT_OUT, member_id, opted_out)


async def erase_member(conn: Connection, member_id: uuid.UUID, reason: str) -> uuid.UUID | None:
    """Deletes the registry's only copy of the member's personal data; keeps a tombstone
    (ids, reason, time) so the erasure itself can be shown."""
    bin_id: uuid.UUID | None = await conn.fetchval(DELETE_MEMBER, member_id)
    if bin_id is not None:
        await conn.execute(INSERT_ERASURE, member_id, bin_id, reason)
    return bin_id
