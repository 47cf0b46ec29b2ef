"""Intake's yearly figures: feedback on time, late, missing or open; an alert to several BINs
counted once; replies per BIN."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from services.intake.domain.evaluation import AlertInBin, activity, activity_part
from services.intake.domain.feedback import feedback_outcome

DUE = date(2026, 3, 10)  # a Tuesday
A, B = uuid.uuid4(), uuid.uuid4()
NOW = datetime(2026, 12, 31, tzinfo=UTC)


def test_feedback_is_on_time_until_the_due_day_ends_in_brussels() -> None:
    # 22:30 UTC on the due day is 23:30 in Brussels: still on time; 23:30 UTC is the next day.
    assert feedback_outcome(DUE, datetime(2026, 3, 10, 22, 30, tzinfo=UTC), NOW) == "on_time"
    assert feedback_outcome(DUE, datetime(2026, 3, 10, 23, 30, tzinfo=UTC), NOW) == "late"
    assert feedback_outcome(DUE, None, datetime(2026, 3, 10, 12, tzinfo=UTC)) == "open"
    assert feedback_outcome(DUE, None, datetime(2026, 3, 11, 12, tzinfo=UTC)) == "missing"


def _alert(alert_id: uuid.UUID, bin_id: uuid.UUID, **fields: object) -> AlertInBin:
    values: dict[str, object] = {
        "issued_at": datetime(2026, 3, 9, 20, tzinfo=UTC),
        "follow_up": False,
        "cancelled": False,
        "feedback_due": DUE,
        "feedback_at": None,
    }
    values.update(fields)
    return AlertInBin(alert_id, bin_id, **values)  # type: ignore[arg-type]


def test_an_alert_to_two_bins_counts_once_in_the_zone_and_once_in_each_bin() -> None:
    shared, own, follow = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    alerts = [
        _alert(shared, A, feedback_at=datetime(2026, 3, 10, 9, tzinfo=UTC)),
        _alert(shared, B, feedback_at=datetime(2026, 3, 10, 9, tzinfo=UTC)),
        _alert(own, A, issued_at=datetime(2026, 7, 1, tzinfo=UTC), cancelled=True),
        _alert(follow, A, follow_up=True, feedback_due=None),
    ]
    replies = {(shared, A): 3, (shared, B): 1, (own, None): 2, (uuid.uuid4(), A): 9}
    total = activity(alerts, replies, NOW)
    assert (total.activations, total.follow_ups, total.cancelled) == (2, 1, 1)
    assert total.activations_by_month[2] == 1 and total.activations_by_month[6] == 1
    assert total.feedback.model_dump() == {"on_time": 1, "late": 0, "missing": 1, "open": 0}
    # Replies to alerts outside the figures (the 9) do not count.
    assert total.replies == 6

    zone = activity_part(2026, alerts, replies, NOW)
    assert zone.total == total
    assert zone.bins[A].activations == 2 and zone.bins[A].replies == 3
    assert zone.bins[B].activations == 1 and zone.bins[B].replies == 1

    one = activity_part(2026, [a for a in alerts if a.bin_id == B], replies, NOW, bin_id=B)
    assert one.bins == {} and one.total.replies == 1
