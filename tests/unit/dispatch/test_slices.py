import pytest

from services.dispatch.domain.slices import Slice, pending


def test_only_slices_not_done_are_published_again() -> None:
    parts = [Slice(0, 3), Slice(1, 3), Slice(2, 3)]
    assert pending([(parts[0], True), (parts[1], False), (parts[2], False)]) == parts[1:]
    assert pending([(p, True) for p in parts]) == []


@pytest.mark.parametrize(("index", "count"), [(0, 1), (2, 2), (-1, 3)])
def test_a_slice_outside_its_fanout_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError, match="not a slice"):
        Slice(index, count)
