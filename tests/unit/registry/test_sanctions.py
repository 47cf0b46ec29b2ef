from datetime import UTC, datetime, timedelta

import pytest

from services.registry.domain.sanctions import (
    SanctionKind,
    SanctionRefused,
    appeal_deadline,
    check_appeal,
    check_sanction,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
R, S, X = SanctionKind.REPRIMAND, SanctionKind.SUSPENSION, SanctionKind.REMOVAL


def test_the_steps_go_reprimand_suspension_removal() -> None:
    check_sanction(R, [], None, NOW, removed=False)
    check_sanction(S, [R], NOW + timedelta(days=30), NOW, removed=False)
    check_sanction(X, [R, S], None, NOW, removed=False)
    with pytest.raises(SanctionRefused, match="suspension follows a reprimand"):
        check_sanction(S, [], NOW + timedelta(days=1), NOW, removed=False)
    with pytest.raises(SanctionRefused, match="removal follows a suspension"):
        check_sanction(X, [R], None, NOW, removed=False)
    with pytest.raises(SanctionRefused, match="nothing follows a removal"):
        check_sanction(R, [R, S, X], None, NOW, removed=True)


def test_a_suspension_ends_in_the_future_and_only_it_has_an_end() -> None:
    with pytest.raises(SanctionRefused, match="end date in the future"):
        check_sanction(S, [R], NOW - timedelta(days=1), NOW, removed=False)
    with pytest.raises(SanctionRefused, match="end date in the future"):
        check_sanction(S, [R], None, NOW, removed=False)
    with pytest.raises(SanctionRefused, match="has no end date"):
        check_sanction(R, [], NOW + timedelta(days=1), NOW, removed=False)


def test_a_removal_can_be_appealed_within_three_weeks() -> None:
    deadline = appeal_deadline(X, NOW)
    assert deadline == NOW + timedelta(days=21)
    assert appeal_deadline(S, NOW) is None
    check_appeal(deadline, NOW + timedelta(days=20), appealed=False)
    with pytest.raises(SanctionRefused, match="appeal period ended on 2026-12-14"):
        check_appeal(deadline, NOW + timedelta(days=22), appealed=False)
    with pytest.raises(SanctionRefused, match="appealed already"):
        check_appeal(deadline, NOW, appealed=True)
    with pytest.raises(SanctionRefused, match="only a definitive removal"):
        check_appeal(None, NOW, appealed=False)
