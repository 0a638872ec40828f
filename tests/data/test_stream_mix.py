"""The level mix of streamed blocks: exact counts per block, a seeded layout, and the lag rule of MixSchedule."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from jaxlua.data.stream_mix import MixSchedule, block_levels, slot_counts


@pytest.mark.parametrize("weights", [(1, 1, 1), (0.2, 0.0, 0.8), (1e-3, 1, 5), (3,)])
def test_slot_counts_sum_to_the_block_and_follow_the_weights(weights):
    counts = slot_counts(weights, 256)
    assert counts.sum() == 256
    exact = np.asarray(weights, float) / sum(weights) * 256
    assert np.all(np.abs(counts - exact) < 1)
    assert np.all(counts[np.asarray(weights) == 0] == 0)


@pytest.mark.parametrize("weights", [(), (0, 0), (-1, 2), (float("nan"), 1)])
def test_bad_weights_are_one_clear_error(weights):
    with pytest.raises(ValueError, match="level mix"):
        slot_counts(weights, 8)


def test_block_levels_are_seeded_and_shuffled():
    levels = (0, 8, 4)
    a = block_levels(levels, (1, 1, 2), 3, 64, seed=1)
    assert np.array_equal(a, block_levels(levels, (1, 1, 2), 3, 64, seed=1))
    assert not np.array_equal(a, block_levels(levels, (1, 1, 2), 4, 64, seed=1))
    assert [int((a == lv).sum()) for lv in levels] == [16, 16, 32]
    assert not np.array_equal(a, np.sort(a))  # laid out in a shuffled order, not level by level


def test_schedule_applies_a_setting_lag_blocks_later():
    schedule = MixSchedule((0, 4), (1, 0), block_size=16, sort_window=4, seed=0, lag=2)
    stop = threading.Event()
    schedule.set([(4, (0, 1))], consumed_step=100)
    # Block b follows the newest setting made at a step <= (b - 2) * 4: the setting at step 4 from block 3 on.
    assert [schedule.weights(b) for b in range(5)] == [(1.0, 0.0)] * 3 + [(0.0, 1.0)] * 2
    assert {schedule.level(i, stop) for i in range(3 * 16)} == {0}
    assert {schedule.level(i, stop) for i in range(3 * 16, 5 * 16)} == {4}


def test_schedule_waits_for_the_trainer_and_honours_stop():
    schedule = MixSchedule((0, 4), (1, 1), block_size=8, sort_window=2, seed=0, lag=1)
    stop = threading.Event()
    schedule.set([], consumed_step=0)
    assert schedule.level(8, stop) in (0, 4)  # block 1 needs batch 0: taken
    got = []
    waiter = threading.Thread(target=lambda: got.append(schedule.level(3 * 8, stop)))  # block 3 needs batch 4
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive() and not got
    schedule.set([(2, (0, 1))], consumed_step=4)
    waiter.join(timeout=5)
    assert got == [4]
    stop.set()
    assert schedule.level(100 * 8, stop) is None


def test_settings_are_checked():
    schedule = MixSchedule((0, 4), (1, 1), block_size=8, sort_window=2, seed=0)
    with pytest.raises(ValueError, match="step order"):
        schedule.set([(4, (1, 1)), (2, (1, 1))], 0)
    with pytest.raises(ValueError, match="one weight per level"):
        schedule.set([(4, (1, 1, 1))], 0)


def test_settings_made_before_cannot_change():
    schedule = MixSchedule((0, 4), (1, 1), block_size=8, sort_window=2, seed=0)
    schedule.set([(2, (1, 0))], 0)
    schedule.set([(2, (1, 0)), (4, (0, 1))], 1)
    with pytest.raises(ValueError, match="only grow"):
        schedule.set([(2, (1, 0)), (4, (1, 1))], 2)
    with pytest.raises(ValueError, match="only grow"):
        schedule.set([(2, (1, 0))], 2)
    with pytest.raises(ValueError, match="step order"):
        schedule.set([(2, (1, 0)), (4, (0, 1)), (3, (1, 1))], 2)
