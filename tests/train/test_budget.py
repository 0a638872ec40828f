"""A wall-clock training budget: the plan from the measured rate, the stop, and resumption of the plan."""
from __future__ import annotations

import json

import pytest

from jaxlua.train import budget as budget_module
from jaxlua.train.budget import PROBE_END, PROBE_START, TimeBudget, planned_config
from jaxlua.train.config import TrainConfig
from jaxlua.train.loop import train
from tests.train.synthetic import VOCAB_SIZE, toy_dataset


def test_no_budget_means_no_plan():
    assert TimeBudget.of(TrainConfig()) is None


def test_the_rate_over_the_probe_plans_the_steps_that_fit():
    budget = TimeBudget.of(TrainConfig(steps=10_000, time_budget_s=100.0))
    assert budget.observe(PROBE_START, 10.0) is None  # 10 s: compilation
    plan = budget.observe(PROBE_END, 10.0 + 0.1 * (PROBE_END - PROBE_START))  # 0.1 s per step
    left = 100.0 - (10.0 + 0.1 * (PROBE_END - PROBE_START))
    assert plan == PROBE_END + int(left * budget_module.MARGIN / 0.1)
    assert budget.observe(PROBE_END + 1, 13.0) is None  # decided once
    assert not budget.spent(99.9) and budget.spent(100.0)


def test_the_plan_is_capped_by_steps_and_keeps_the_warmup():
    budget = TimeBudget.of(TrainConfig(steps=300, time_budget_s=1e6))
    budget.observe(PROBE_START, 1.0)
    assert budget.observe(PROBE_END, 2.0) == 300
    config = planned_config(TrainConfig(steps=300, time_budget_s=5.0), 150)
    assert (config.steps, config.warmup, config.time_budget_s) == (150, 100, 0.0)
    assert planned_config(TrainConfig(steps=300, time_budget_s=5.0), 60).warmup == 6


def _config(**changes) -> TrainConfig:
    values = dict(embed_dim=16, hidden_dim=32, num_layers=1, batch_size=8, steps=100_000, lr=1e-2, max_len=24,
                  eval_interval=10_000, checkpoint_interval=10_000, log_interval=5, val_max_examples=16)
    values.update(changes)
    return TrainConfig(**values)


def test_a_budgeted_run_stops_in_time_and_resumes_to_its_plan(tmp_path, monkeypatch):
    data = toy_dataset(64, seed=0)
    config = _config(time_budget_s=8.0)
    result = train(config, tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert PROBE_END <= result.end_step < config.steps
    assert result.seconds < 8.0 + 30.0  # the last step, the final validation and the save
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[-1].split(",")[0] == str(result.end_step)
    # Running it again finds the plan in the checkpoint: nothing more to train.
    again = train(config, tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert (again.start_step, again.end_step) == (result.end_step, result.end_step)


def test_a_budget_spent_before_the_probe_still_ends_cleanly(tmp_path):
    data = toy_dataset(32, seed=1)
    result = train(_config(time_budget_s=1e-3), tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert result.end_step == 1
    assert (tmp_path / "checkpoints").is_dir()
