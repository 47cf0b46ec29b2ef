from datetime import UTC, date, datetime

from services.intake.domain.feedback import feedback_due, is_overdue


def test_feedback_is_due_the_next_working_day() -> None:
    # Monday afternoon → Tuesday.
    assert feedback_due(datetime(2026, 11, 23, 14, 0, tzinfo=UTC)) == date(2026, 11, 24)
    # Friday → Monday; Saturday night → Monday.
    assert feedback_due(datetime(2026, 11, 27, 14, 0, tzinfo=UTC)) == date(2026, 11, 30)
    assert feedback_due(datetime(2026, 11, 28, 22, 0, tzinfo=UTC)) == date(2026, 11, 30)
    # Tuesday 10 November → Thursday 12: 11 November (Armistice) is a holiday.
    assert feedback_due(datetime(2026, 11, 10, 9, 0, tzinfo=UTC)) == date(2026, 11, 12)
    # 23:30 UTC on Sunday is already Monday in Brussels → Tuesday.
    assert feedback_due(datetime(2026, 11, 22, 23, 30, tzinfo=UTC)) == date(2026, 11, 24)


def test_overdue_once_the_due_day_has_ended_in_brussels() -> None:
    due = date(2026, 11, 24)
    assert not is_overdue(due, datetime(2026, 11, 24, 22, 30, tzinfo=UTC))  # 23:30 in Brussels
    assert is_overdue(due, datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 00:30 the day after
