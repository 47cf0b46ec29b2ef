"""Belgian working days: weekdays that are not one of the ten legal public holidays. The
digest runs on them; police feedback after an activation is due by the next one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
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


@lru_cache(maxsize=64)
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


def is_working_day(day: date, is_holiday: Holidays = is_belgian_public_holiday) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def next_working_day(day: date, is_holiday: Holidays = is_belgian_public_holiday) -> date:
    """The first working day after ``day``."""
    following = day + timedelta(days=1)
    while not is_working_day(following, is_holiday):
        following += timedelta(days=1)
    return following
