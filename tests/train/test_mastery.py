"""The mastery curriculum's rule: admission by threshold or stalled progress, compute shares by error."""
from __future__ import annotations

import pytest

from jaxlua.config import TrainConfig
from jaxlua.data.stream_mix import initial_mix
from jaxlua.train.mastery import MIN_GAIN, MasteryRule


def _rule(**overrides):
    values = dict(levels=(0, 4, 1), mean_lengths=(10.0, 20.0, 100.0), threshold=0.8, patience=2, floor=0.05, start=1)
    return MasteryRule(**{**values, **overrides})


def test_initial_state_trains_the_first_levels_evenly():
    assert initial_mix(3, 2) == (1.0, 1.0, 0.0)
    state = _rule().initial()
    assert state["admitted"] == 1 and state["mix"] == []


def test_a_level_is_admitted_once_the_admitted_ones_pass_the_threshold():
    rule = _rule()
    state = rule.on_eval(rule.initial(), 10, {0: 0.5, 4: 0.0, 1: 0.0})
    assert state["admitted"] == 1
    state = rule.on_eval(state, 20, {0: 0.85, 4: 0.0, 1: 0.0})
    assert state["admitted"] == 2
    step, weights = state["mix"][-1]
    assert step == 20 and weights[2] == 0.0
    # Compute by error (0.15 against 1.0), programs by compute / length (10 against 20).
    assert weights[0] / weights[1] == pytest.approx((0.15 / 10) / (1.0 / 20))


def test_stalled_progress_admits_the_next_level_anyway():
    rule = _rule(patience=2)
    state = rule.on_eval(rule.initial(), 10, {0: 0.30})
    state = rule.on_eval(state, 20, {0: 0.30 + MIN_GAIN / 2})
    assert state["admitted"] == 1 and state["since_gain"] == 1
    state = rule.on_eval(state, 30, {0: 0.30 + MIN_GAIN * 0.9})
    assert state["admitted"] == 2 and state["since_gain"] == 0


def test_a_mastered_level_keeps_the_floor():
    rule = _rule(start=2)
    state = rule.on_eval(rule.initial(), 10, {0: 1.0, 4: 0.0})
    weights = state["mix"][-1][1]
    assert weights[0] == pytest.approx(0.05 / 10) and weights[1] == pytest.approx(1.0 / 20)


def test_the_state_is_plain_json():
    import json  # pylint: disable=import-outside-toplevel

    rule = _rule()
    state = rule.on_eval(rule.initial(), 10, {0: 0.9, 4: 0.1, 1: 0.0})
    assert json.loads(json.dumps(state)) == state


def test_mastery_config_rules():
    TrainConfig(stream=True, levels="0,8,4", curriculum="mastery", mastery_start=3)
    with pytest.raises(ValueError, match="needs --stream"):
        TrainConfig(curriculum="mastery")
    assert TrainConfig(stream=True, levels="0,8", curriculum="mastery", mastery_start=3).mastery_start == 3
    assert initial_mix(2, 3) == (1.0, 1.0)  # fewer levels than the start: all of them
    with pytest.raises(ValueError, match="fixed dataset"):
        TrainConfig(stream=True, curriculum="blend")
