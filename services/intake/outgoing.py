"""What leaves intake: alerts, follow-ups, cancellations, notices and police news. Each is
checked (targets, zone, privacy guard, publication rules), stored, audited and put in the
outbox in the caller's transaction, so the request never waits on the broker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from services.intake import access, repository
from services.intake.domain.feedback import feedback_due
from services.intake.domain.four_eyes import Reason
from services.intake.domain.news import publication_problem
from services.intake.domain.privacy import (
    Change,
    Decision,
    Guarded,
    attachment_problem,
    guard_texts,
)
from services.intake.domain.targets import inactive
from services.intake.errors import ContentRefused, PrivacyUnresolved, TargetsRefused
from services.intake.four_eyes import Gate, awaiting
from services.intake.schemas import AlertContent, NewsContent, NoticeContent
from shared.auth import Principal
from shared.database import Connection
from shared.events import (
    AlertIssued,
    AlertIssuedData,
    Language,
    PoliceNewsCategory,
    PoliceNewsPublished,
    PoliceNewsPublishedData,
)
from shared.events.intake import (
    AlertCancelled,
    AlertCancelledData,
    NoticePublished,
    NoticePublishedData,
)
from shared.runtime import ServiceRuntime

SOURCE = "intake"


def _changes(changes: list[Change]) -> list[dict[str, Any]]:
    return [asdict(c) for c in changes]


def guarded(decisions: Sequence[Decision], **fields: dict[Language, str]) -> dict[str, Guarded]:
    """Each field's texts as they may go out; refused, naming every uncertain finding of
    every field at once, while one has no decision."""
    results = {name: guard_texts(texts, decisions) for name, texts in fields.items()}
    if unresolved := [(n, f) for n, r in results.items() for f in r.unresolved]:
        raise PrivacyUnresolved(unresolved)
    return results


def _privacy_audit(*results: Guarded) -> dict[str, int]:
    # Counts only: the audit log never holds what was masked or kept.
    changes = [c for r in results for c in r.changes]
    return {
        "plates_masked": sum(c.kind == "licence_plate" for c in changes),
        "identifiers_masked": sum(c.kind != "licence_plate" for c in changes),
        "masked_on_request": sum(c.decided_by == "operator" for c in changes),
        "kept_on_request": sum(r.kept for r in results),
    }


async def active_targets(
    conn: Connection, principal: Principal, bin_ids: Sequence[uuid.UUID]
) -> list[Any]:
    """The targeted BINs, refused unless every one is known, active and in the caller's
    zone."""
    wanted = list(dict.fromkeys(bin_ids))
    found = await repository.bins(conn, wanted)
    if problems := inactive(wanted, {b: r["status"] for b, r in found.items()}):
        raise TargetsRefused("some BINs cannot be alerted; see reasons", problems)
    rows = [found[b] for b in wanted]
    access.check_bins_in_zone(principal, rows)
    return rows


def _zone_of(rows: Sequence[Any]) -> str:
    zones = sorted({r["police_zone"] for r in rows})
    return zones[0] if len(zones) == 1 else ",".join(zones)


@dataclass(frozen=True)
class Issued:
    alert_id: uuid.UUID
    changes: list[Change]
    # Non-empty: the alert is held until a second operator of the zone approves it.
    approval_reasons: list[Reason]
    reach: int | None


async def issue_alert(
    conn: Connection,
    runtime: ServiceRuntime,
    principal: Principal,
    gate: Gate,
    content: AlertContent,
    bin_ids: Sequence[uuid.UUID],
    correlation_id: str | None,
    report_id: uuid.UUID | None = None,
    follows_alert_id: uuid.UUID | None = None,
) -> Issued:
    targets = await active_targets(conn, principal, bin_ids)
    refused = [
        f"{a.filename}: {problem}"
        for a in content.attachments
        if (problem := attachment_problem(a.content_type, a.shows_people))
    ]
    if refused:
        raise ContentRefused("an attachment may not be sent; see reasons", refused)
    guard = guarded(content.decisions(), texts=dict(content.texts))["texts"]
    texts, changes = guard.texts, guard.changes
    # Counted last: a refused alert never asks dispatch.
    held, reach = await gate.reasons(targets)
    alert_id = uuid.uuid4()
    event = AlertIssued.create(
        source=SOURCE,
        data=AlertIssuedData(
            alert_id=alert_id,
            bin_ids=[t["bin_id"] for t in targets],
            texts=texts,
            channels=content.channels,
            expires_at=content.expires_at,
            follows_alert_id=follows_alert_id,
        ),
        correlation_id=correlation_id,
    )
    zone = _zone_of(targets)
    await repository.insert_alert(
        conn,
        alert_id,
        {
            "bin_ids": [t["bin_id"] for t in targets],
            "texts": {lang.value: text for lang, text in texts.items()},
            "channels": [c.value for c in content.channels],
            "expires_at": content.expires_at,
            "correlation_id": event.correlationid,
            "police_zone": zone,
            "issued_by": principal.subject,
            "report_id": report_id,
            "follows_alert_id": follows_alert_id,
            "privacy_changes": _changes(changes),
            "attachments": [a.model_dump() for a in content.attachments],
            # A follow-up is itself feedback; the activation it follows carries the deadline.
            # A held alert's deadline starts when it is approved.
            "feedback_due": None if follows_alert_id or held else feedback_due(datetime.now(UTC)),
            "approval_reasons": [r.value for r in held],
            "reach": reach,
        },
    )
    action = "alert.followed_up" if follows_alert_id else "alert.issued"
    await repository.audit(
        conn,
        principal.subject,
        "alert.awaiting_approval" if held else action,
        zone,
        "alert",
        alert_id,
        {
            "bin_ids": [str(t["bin_id"]) for t in targets],
            **_privacy_audit(guard),
            "follows_alert_id": str(follows_alert_id) if follows_alert_id else None,
            "reach": reach,
            "approval_reasons": [r.value for r in held],
        },
    )
    if not held:
        # A held alert's event is made when it is approved (four_eyes.approve).
        await runtime.enqueue(conn, [event])
    return Issued(alert_id, changes, held, reach)


async def cancel_alert(
    conn: Connection, runtime: ServiceRuntime, actor: str, alert: Any, reason: str
) -> None:
    """Cancels ``alert`` on behalf of ``actor`` (an operator's subject, or the job that
    cancels holds nobody approved in time)."""
    held = awaiting(alert)
    await repository.cancel_alert(conn, alert["alert_id"], reason)
    await repository.audit(
        conn,
        actor,
        "alert.cancelled",
        alert["police_zone"],
        "alert",
        alert["alert_id"],
        {"reason": reason, "was_awaiting_approval": held},
    )
    if held:
        return  # never announced: dispatch has nothing to stop
    await runtime.enqueue(
        conn,
        [
            AlertCancelled.create(
                source=SOURCE, data=AlertCancelledData(alert_id=alert["alert_id"], reason=reason)
            )
        ],
    )


async def publish_notice(
    conn: Connection,
    runtime: ServiceRuntime,
    principal: Principal,
    content: NoticeContent,
    targets: Sequence[Any],
    scope: str,
    follows_alert_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, list[Change]]:
    if not targets:
        raise TargetsRefused("no active BIN in the notice's scope")
    access.check_bins_in_zone(principal, targets)
    guards = guarded(
        content.decisions(), subjects=dict(content.subjects), texts=dict(content.texts)
    )
    text_guard, subject_guard = guards["texts"], guards["subjects"]
    texts, subjects = text_guard.texts, subject_guard.texts
    changes = text_guard.changes + subject_guard.changes
    notice_id = uuid.uuid4()
    bin_ids = [t["bin_id"] for t in targets]
    zone = _zone_of(targets)
    await repository.insert_notice(
        conn,
        notice_id,
        {
            "police_zone": zone,
            "scope": scope,
            "bin_ids": bin_ids,
            "subjects": {k.value: v for k, v in subjects.items()},
            "texts": {k.value: v for k, v in texts.items()},
            "channels": [c.value for c in content.channels],
            "follows_alert_id": follows_alert_id,
            "privacy_changes": _changes(changes),
            "issued_by": principal.subject,
        },
    )
    await repository.audit(
        conn,
        principal.subject,
        "notice.published",
        zone,
        "notice",
        notice_id,
        {"scope": scope, "bins": len(bin_ids), **_privacy_audit(text_guard, subject_guard)},
    )
    await runtime.enqueue(
        conn,
        [
            NoticePublished.create(
                source=SOURCE,
                data=NoticePublishedData(
                    notice_id=notice_id,
                    bin_ids=bin_ids,
                    subjects=subjects,
                    texts=texts,
                    channels=content.channels,
                    follows_alert_id=follows_alert_id,
                ),
            )
        ],
    )
    return notice_id, changes


async def record_news(
    conn: Connection,
    runtime: ServiceRuntime,
    principal: Principal,
    content: NewsContent,
    police_zone: str,
    place: str,
    occurred_at: datetime,
    report_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, datetime]:
    access.check_zone(principal, police_zone)
    if problem := publication_problem(content.category, content.publishable):
        raise ContentRefused(problem)
    # The published info is one text whatever the readers' language: plates are masked
    # with the Dutch placeholder.
    news_guard = guarded(content.decisions(), published_info={Language.NL: content.published_info})[
        "published_info"
    ]
    info = news_guard.texts[Language.NL]
    news_id = uuid.uuid4()
    recorded_at = await repository.insert_news(
        conn,
        news_id,
        {
            "police_zone": police_zone,
            "category": content.category.value,
            "place": place,
            "occurred_at": occurred_at,
            "published_info": info,
            "publishable": content.publishable,
            "report_id": report_id,
            "recorded_by": principal.subject,
        },
    )
    await repository.audit(
        conn,
        principal.subject,
        "police_news.recorded",
        police_zone,
        "police_news",
        news_id,
        {
            "category": content.category.value,
            "publishable": content.publishable,
            **_privacy_audit(news_guard),
        },
    )
    if content.publishable:
        await runtime.enqueue(
            conn,
            [
                PoliceNewsPublished.create(
                    source=SOURCE,
                    data=PoliceNewsPublishedData(
                        news_id=news_id,
                        police_zone=police_zone,
                        category=PoliceNewsCategory(content.category.value),
                        occurred_at=occurred_at,
                        place=place,
                        published_info=info,
                    ),
                )
            ],
        )
    return news_id, recorded_at
