"""A wall-clock training budget: the learning rate follows the clock, the run stops when the budget is spent,
a resumed run continues the budget, and a budgeted curriculum advances by the share of time spent."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jaxlua.train.budget import TimeBudget
from jaxlua.train.config import TrainConfig
from jaxlua.train.curriculum import Curriculum, CurriculumState
from jaxlua.train.loop import train
from jaxlua.train.optimizer import learning_rate_schedule
from tests.train.synthetic import VOCAB_SIZE, toy_dataset


def test_no_budget_means_none():
    assert TimeBudget.of(TrainConfig()) is None


def test_the_scale_is_a_cosine_of_the_spent_share():
    budget = TimeBudget.of(TrainConfig(time_budget_s=100.0, min_lr_ratio=0.1), spent_before=20.0)
    assert budget.spent(30.0) == 50.0 and not budget.done(79.9) and budget.done(80.0)
    assert budget.scale(-20.0) == pytest.approx(1.0)
    assert budget.scale(30.0) == pytest.approx(0.1 + 0.9 * 0.5)
    assert budget.scale(80.0) == pytest.approx(0.1) and budget.scale(500.0) == pytest.approx(0.1)


def test_under_a_budget_the_step_schedule_is_warmup_then_constant():
    schedule = learning_rate_schedule(TrainConfig(steps=1_000_000, time_budget_s=60.0, lr=1e-3, warmup_steps=10))
    assert float(schedule(5)) == pytest.approx(5e-4) and float(schedule(500_000)) == pytest.approx(1e-3)


def test_a_budgeted_curriculum_advances_with_the_share_spent():
    levels = np.array([1, 2, 3] * 4)
    curriculum = Curriculum(TrainConfig(curriculum="sequential", steps=1_000_000, time_budget_s=60.0), levels)
    state = CurriculumState()
    assert curriculum.on_share(state, 10, 0.3) == state
    assert curriculum.on_share(state, 12, 0.34) == CurriculumState(1, 12)
    assert curriculum.on_share(CurriculumState(1, 12), 30, 1.5) == CurriculumState(2, 30)
    fixed = Curriculum(TrainConfig(curriculum="sequential", curriculum_stage_steps=5, time_budget_s=60.0), levels)
    assert fixed.on_share(state, 12, 0.9) == state  # explicit stage steps rule


def _config(**changes) -> TrainConfig:
    values = dict(embed_dim=16, hidden_dim=32, num_layers=1, batch_size=8, steps=100_000, lr=1e-2, max_len=24,
                  eval_interval=10_000, checkpoint_interval=10_000, log_interval=5, val_max_examples=16)
    values.update(changes)
    return TrainConfig(**values)


def test_a_budgeted_run_stops_in_time_with_the_lr_decayed_and_is_then_done(tmp_path):
    data = toy_dataset(64, seed=0)
    config = _config(time_budget_s=6.0, min_lr_ratio=0.05)
    result = train(config, tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert 1 <= result.end_step < config.steps
    assert result.seconds < 6.0 + 30.0  # the last step, the final validation and the save
    assert float(result.state.plateau.scale) < 0.2  # the cosine followed the clock down
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[-1].split(",")[0] == str(result.end_step)
    again = train(config, tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)  # the budget is spent
    assert (again.start_step, again.end_step) == (result.end_step, result.end_step)


def test_a_tiny_budget_still_ends_cleanly(tmp_path):
    data = toy_dataset(32, seed=1)
    result = train(_config(time_budget_s=1e-3), tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert result.end_step == 1 and math.isfinite(result.best_val_loss)
    assert (tmp_path / "checkpoints").is_dir()


def test_progress_bar_counts_what_bounds_the_run(capsys):
    from jaxlua.train.loop import ProgressBar  # pylint: disable=import-outside-toplevel

    config = TrainConfig(time_budget_s=450.0, steps=100_000)
    bar = ProgressBar(config, TimeBudget.of(config, spent_before=50.0), start=300, enabled=True)
    bar.advance(301, 10.0)
    bar.close()
    text = capsys.readouterr().err.replace("\r", "\n").strip().split("\n")[-1]
    assert "60/450 s" in text and "step=301" in text and "100000" not in text
    plain = TrainConfig(steps=40)
    bar = ProgressBar(plain, None, start=3, enabled=True)
    bar.advance(4, 1.0)
    bar.close()
    assert "4/40" in capsys.readouterr().err
