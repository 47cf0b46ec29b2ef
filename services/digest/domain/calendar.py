"""Which days get a digest, and when: weekdays, not public holidays, at a local time in
Europe/Brussels (zoneinfo keeps summer and winter time right)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.working_days import (
    BRUSSELS,
    Holidays,
    belgian_public_holidays,
    easter_sunday,
    is_belgian_public_holiday,
    is_working_day,
    no_holidays,
)

# Re-exported: the digest's calendar is the shared Belgian one.
__all__ = [
    "BRUSSELS",
    "DigestCalendar",
    "belgian_public_holidays",
    "easter_sunday",
    "is_belgian_public_holiday",
    "no_holidays",
]


class DigestCalendar:
    def __init__(
        self, at: time, zone: ZoneInfo = BRUSSELS, is_holiday: Holidays = no_holidays
    ) -> None:
        self.at = at
        self.zone = zone
        self.is_holiday = is_holiday

    def is_digest_day(self, day: date) -> bool:
        return is_working_day(day, self.is_holiday)

    def scheduled_at(self, day: date) -> datetime:
        """The digest's moment for ``day``, as an aware datetime in the calendar's zone."""
        return datetime.combine(day, self.at, tzinfo=self.zone)

    def previous_day(self, day: date) -> date:
        before = day - timedelta(days=1)
        while not self.is_digest_day(before):
            before -= timedelta(days=1)
        return before

    def period(self, day: date) -> tuple[datetime, datetime]:
        """What a day's digest covers: since the previous digest, so Monday's covers the
        weekend and the day after a holiday covers the holiday."""
        return self.scheduled_at(self.previous_day(day)), self.scheduled_at(day)

    def latest_due(self, now: datetime) -> date:
        """The most recent digest day whose moment has passed at ``now``: what a service
        that was down catches up on (one digest, not a backlog of stale ones)."""
        day = now.astimezone(self.zone).date()
        while not (self.is_digest_day(day) and self.scheduled_at(day) <= now):
            day -= timedelta(days=1)
        return day

    def next_after(self, now: datetime) -> datetime:
        day = now.astimezone(self.zone).date()
        while not (self.is_digest_day(day) and self.scheduled_at(day) > now):
            day += timedelta(days=1)
        return self.scheduled_at(day)

    def upcoming_day(self, now: datetime) -> date:
        """The digest day whose period covers ``now``: where news published now will go."""
        return self.next_after(now).astimezone(self.zone).date()
