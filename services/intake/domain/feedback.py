"""When police feedback on an activation is due: by the end of the next working day (the
2019 ministerial circular), counted in Brussels time."""

from __future__ import annotations

from datetime import date, datetime

from shared.working_days import BRUSSELS, Holidays, is_belgian_public_holiday, next_working_day


def feedback_due(issued_at: datetime, is_holiday: Holidays = is_belgian_public_holiday) -> date:
    return next_working_day(issued_at.astimezone(BRUSSELS).date(), is_holiday)


def is_overdue(due: date, now: datetime) -> bool:
    """Overdue once the due day has ended in Brussels."""
    return now.astimezone(BRUSSELS).date() > due


def feedback_outcome(due: date, given_at: datetime | None, now: datetime) -> str:
    """For the yearly evaluation: ``on_time`` (given by the end of the due day, Brussels),
    ``late``, ``missing`` (overdue, none given) or ``open`` (not due yet)."""
    if given_at is not None:
        return "late" if is_overdue(due, given_at) else "on_time"
    return "missing" if is_overdue(due, now) else "open"
