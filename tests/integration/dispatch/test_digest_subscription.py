"""A member who unsubscribed from the digest on their preferences page: the registry's
member.changed.v1 reaches dispatch's projection, and the next digest leaves them out."""

from __future__ import annotations

from shared.events import Language, MemberChanged, MemberContact, MemberRegisteredData
from tests.helpers import eventually
from tests.integration.dispatch.conftest import SystemFactory


async def test_an_unsubscribed_member_gets_no_digest(dispatch_system: SystemFactory) -> None:
    async with dispatch_system() as system:
        bin_id = await system.seed_bin(5, ["sms"], news=["email"])
        async with system.dispatch.pool.acquire() as conn:
            member_id = await conn.fetchval(
                "SELECT member_id FROM membership WHERE bin_id = $1 LIMIT 1", bin_id
            )
        await system.dispatch.publisher.publish(
            MemberChanged.create(
                source="registry",
                data=MemberRegisteredData(
                    member_id=member_id,
                    bin_id=bin_id,
                    language=Language.NL,
                    contact=MemberContact(phones=["+32470000001"], email="lid@voorbeeld.be"),
                    digest_subscribed=False,
                ),
            )
        )

        async def projected() -> bool:
            async with system.dispatch.pool.acquire() as conn:
                subscribed = await conn.fetchval(
                    "SELECT digest_subscribed FROM recipient WHERE member_id = $1", member_id
                )
            return subscribed is False

        await eventually(projected, timeout=20)
        digest_id = await system.publish_digest(bin_id)
        progress = await system.settled(digest_id, 4, timeout=30)
        assert progress["delivered"] == 4
        async with system.dispatch.pool.acquire() as conn:
            reached = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE source_id = $1 AND member_id = $2",
                digest_id,
                member_id,
            )
        assert reached == 0
