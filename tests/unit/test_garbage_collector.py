"""A serving process's garbage collector: thresholds raised, start-up objects frozen."""

from __future__ import annotations

import gc

from shared.runtime import GC_THRESHOLDS, tune_garbage_collector


def test_a_serving_process_collects_less_often_and_skips_what_start_up_made() -> None:
    before = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
