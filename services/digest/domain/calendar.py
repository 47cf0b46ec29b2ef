"""Which days get a digest, and when: weekdays, not public holidays, at a local time in
Europe/Brussels (zoneinfo keeps summer and winter time right)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")

Holidays = Callable[[date], bool]


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def belgian_public_holidays(year: int) -> frozenset[date]:
    """The ten legal public holidays of Belgium."""
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),  # New Year
            easter + timedelta(days=1),  # Easter Monday
            date(year, 5, 1),  # Labour Day
            easter + timedelta(days=39),  # Ascension
            easter + timedelta(days=50),  # Whit Monday
            date(year, 7, 21),  # National Day
            date(year, 8, 15),  # Assumption
            date(year, 11, 1),  # All Saints
            date(year, 11, 11),  # Armistice
            date(year, 12, 25),  # Christmas
        }
    )


def is_belgian_public_holiday(day: date) -> bool:
    return day in belgian_public_holidays(day.year)


def no_holidays(_: date) -> bool:
    return False


class DigestCalendar:
    def __init__(
        self, at: time, zone: ZoneInfo = BRUSSELS, is_holiday: Holidays = no_holidays
    ) -> None:
        self.at = at
        self.zone = zone
        self.is_holiday = is_holiday

    def is_digest_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

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
