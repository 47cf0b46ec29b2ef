from datetime import UTC, datetime, time

from services.dispatch.domain.quiet import hold_until, quiet_ends
from shared.working_days import BRUSSELS

NIGHT = (time(22, 0), time(7, 0))


def brussels(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BRUSSELS)


def test_a_night_period_runs_past_midnight() -> None:
    assert quiet_ends(brussels(23, 23, 30), *NIGHT) == brussels(24, 7)
    assert quiet_ends(brussels(24, 6, 59), *NIGHT) == brussels(24, 7)
    assert quiet_ends(brussels(24, 7, 0), *NIGHT) is None
    assert quiet_ends(brussels(24, 12, 0), *NIGHT) is None


def test_a_daytime_period_and_none() -> None:
    assert quiet_ends(brussels(24, 13), time(12, 0), time(14, 0)) == brussels(24, 14)
    assert quiet_ends(brussels(24, 15), time(12, 0), time(14, 0)) is None
    assert quiet_ends(brussels(24, 15), None, None) is None


def test_summer_time_is_kept() -> None:
    # 22:30 UTC on 1 July is 00:30 in Brussels (UTC+2): quiet until 07:00 local = 05:00 UTC.
    now = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    assert quiet_ends(now, *NIGHT) == datetime(2026, 7, 2, 5, 0, tzinfo=UTC)


def test_news_waits_urgent_alerts_go_where_the_plan_says() -> None:
    now = brussels(23, 23)
    assert hold_until(now, False, True, *NIGHT, None) == brussels(24, 7)
    assert hold_until(now, True, True, *NIGHT, None) is None
    assert hold_until(now, True, False, *NIGHT, None) == brussels(24, 7)
    assert hold_until(brussels(24, 12), False, True, *NIGHT, None) is None


def test_a_pause_holds_until_it_ends_and_then_past_any_quiet_period() -> None:
    assert hold_until(brussels(24, 12), False, True, None, None, brussels(30, 9)) == brussels(30, 9)
    # The pause ends at 23:00, inside the night: the message waits for the morning.
    morning = datetime(2026, 12, 1, 7, 0, tzinfo=BRUSSELS)
    assert hold_until(brussels(24, 12), False, True, *NIGHT, brussels(30, 23)) == morning
    assert hold_until(brussels(24, 12), False, True, None, None, brussels(20, 9)) is None
