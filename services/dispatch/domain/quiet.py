"""Member control: a member's quiet hours (each day, Brussels time) and a vacation pause. A
message that falls in them is held, not dropped, until they end; urgent alerts go through
anyway where the BIN's communication plan says so (the default)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from shared.working_days import BRUSSELS


def quiet_ends(now: datetime, start: time | None, end: time | None) -> datetime | None:
    """When the quiet period ``now`` falls in ends, or None when ``now`` is not quiet.
    A period may run past midnight (22:00-07:00)."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(BRUSSELS)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        quiet = start <= clock < end
        end_day = today
    else:  # past midnight
        quiet = clock >= start or clock < end
        end_day = today + timedelta(days=1) if clock >= start else today
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=BRUSSELS)


def hold_until(
    now: datetime,
    urgent: bool,
    urgent_overrides: bool,
    quiet_start: time | None,
    quiet_end: time | None,
    paused_until: datetime | None,
) -> datetime | None:
    """Until when a delivery waits, or None to send it now."""
    if urgent and urgent_overrides:
        return None
    moments = [m for m in (quiet_ends(now, quiet_start, quiet_end), paused_until) if m]
    later = max(moments, default=None)
    if later is None or later <= now:
        return None
    # The pause may end inside a quiet period: wait for that one too.
    after_pause = quiet_ends(later, quiet_start, quiet_end)
    return max(later, after_pause) if after_pause else later
