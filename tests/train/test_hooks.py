"""Hook scheduling: a hook with every=N runs after global steps that are multiples of N, after the last step when
`at_end`, from a resumed step that is not a multiple of N as well; hooks run in order and see what earlier hooks
changed; the training scalars are logged before every validation or save and stop a diverged run."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jaxlua.train.budget import BudgetHook, ClockScheduleHook, TimeBudget, budget_hooks
from jaxlua.train.config import TrainConfig
from jaxlua.train.curriculum import CurriculumState
from jaxlua.train.hooks import (DivergenceGuard, Hook, LoopState, MetricsHook, TrainingDivergedError,
                                run_hooks)
from jaxlua.train.loop import train
from tests.train.synthetic import VOCAB_SIZE, toy_dataset


class Record(Hook):
    """Notes the steps it ran after (into a shared `log` too, to check the order)."""

    def __init__(self, every: int, at_end: bool = False, log: list | None = None, name: str = "") -> None:
        super().__init__(every, at_end)
        self.steps: list[int] = []
        self._log, self._name = log, name

    def __call__(self, run: LoopState) -> None:
        self.steps.append(run.step)
        if self._log is not None:
            self._log.append((self._name, run.step))


class EndAt(Hook):
    """Ends the run after step `stop` (as the time budget does)."""

    def __init__(self, stop: int) -> None:
        super().__init__(every=1)
        self._stop = stop

    def __call__(self, run: LoopState) -> None:
        if run.step == self._stop:
            run.last = run.step


def loop_state(start: int, last: int) -> LoopState:
    return LoopState(state=None, cstate=CurriculumState(), step=start, last=last, best_val_loss=math.inf,
                     last_saved=None)


def simulate(hooks: list[Hook], start: int, steps: int) -> LoopState:
    """The step loop of `jaxlua.train.loop.train` without the training."""
    run = loop_state(start, steps)
    for _ in range(start, steps):
        if run.step >= run.last:
            break
        run.trained({"loss": np.float32(1.0)}, tokens=3)
        run_hooks(hooks, run)
    return run


def test_every_n_runs_at_the_multiples_of_n_and_at_the_end_when_asked():
    every, ending, plain = Record(5), Record(5, at_end=True), Record(1)
    simulate([every, ending, plain], start=0, steps=17)
    assert every.steps == [5, 10, 15]
    assert ending.steps == [5, 10, 15, 17]
    assert plain.steps == list(range(1, 18))


def test_a_last_step_on_a_multiple_runs_the_hook_once():
    ending = Record(5, at_end=True)
    simulate([ending], start=0, steps=15)
    assert ending.steps == [5, 10, 15]


def test_a_resumed_run_keeps_the_global_multiples():
    ending, every = Record(5, at_end=True), Record(4)
    run = simulate([ending, every], start=7, steps=17)
    assert ending.steps == [10, 15, 17] and every.steps == [8, 12, 16]
    assert run.step == 17


def test_a_finished_run_resumed_runs_no_hook():
    ending = Record(5, at_end=True)
    run = simulate([ending], start=17, steps=17)
    assert ending.steps == [] and run.step == 17


def test_a_hook_that_ends_the_run_brings_the_end_hooks_after_it_to_this_step():
    log: list = []
    before, after = Record(5, at_end=True, log=log, name="before"), Record(5, at_end=True, log=log, name="after")
    run = simulate([before, EndAt(7), after], start=0, steps=100)
    assert run.step == run.last == 7
    assert before.steps == [5] and after.steps == [5, 7]
    assert log == [("before", 5), ("after", 5), ("after", 7)]


def test_hooks_run_in_list_order():
    log: list = []
    hooks = [Record(2, log=log, name="a"), Record(1, log=log, name="b"), Record(2, at_end=True, log=log, name="c")]
    simulate(hooks, start=0, steps=3)
    assert log == [("b", 1), ("a", 2), ("b", 2), ("c", 2), ("b", 3), ("c", 3)]


def test_a_hook_runs_every_one_step_or_more():
    with pytest.raises(ValueError, match="every >= 1"):
        Record(0)


class Writer:
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict]] = []

    def write(self, step: int, scalars: dict) -> None:
        self.rows.append((step, dict(scalars)))


class NoCheckpoints:
    waited = 0

    def wait(self) -> None:
        self.waited += 1


def metrics_hook(writer: Writer, also: tuple[Hook, ...] = ()) -> MetricsHook:
    guard = DivergenceGuard(NoCheckpoints(), "/run")
    return MetricsHook(writer, guard, lambda **_: None, lambda: {"data": 1.0}, every=3, also=also)


def test_the_training_scalars_are_logged_before_every_validation_and_save():
    writer = Writer()
    validation, checkpoint = Record(4, at_end=True), Record(5, at_end=True)
    run = simulate([metrics_hook(writer, also=(validation, checkpoint)), validation, checkpoint], start=0, steps=11)
    assert [step for step, _ in writer.rows] == [3, 4, 5, 6, 8, 9, 10, 11]
    assert writer.rows[0][1]["loss"] == 1.0 and writer.rows[0][1]["data"] == 1.0 and writer.rows[0][1]["stage"] == 0
    assert run.pending == [] and run.pending_tokens == 0


def test_a_nan_training_loss_stops_the_run_naming_its_step_and_the_last_checkpoint():
    writer = Writer()
    hook = metrics_hook(writer)
    run = loop_state(0, 10)
    run.last_saved = 0
    for loss in (1.0, float("nan"), 2.0):
        run.trained({"loss": np.float32(loss)}, tokens=1)
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at step 2; stopped\. The last good checkpoint "
                                                    r"\(step 0\) is kept in /run/checkpoints\. Try a lower --lr"):
        hook(run)
    assert writer.rows == []


def test_the_budget_ends_the_run_at_the_step_it_is_spent():
    budget = TimeBudget(seconds=10.0, min_ratio=0.1)
    run = loop_state(0, 100)
    run.step, run.elapsed = 6, 9.0
    BudgetHook(budget)(run)
    assert run.last == 100
    run.step, run.elapsed = 7, 10.5
    BudgetHook(budget)(run)
    assert run.last == 7
    assert TimeBudget(10.0, 0.1, spent_before=12.0).end_step(40, 100) == 40
    assert TimeBudget(10.0, 0.1, spent_before=3.0).end_step(40, 100) == 100


def test_budget_hooks_follow_the_schedule():
    budget = TimeBudget(seconds=10.0, min_ratio=0.1)
    assert budget_hooks(None, TrainConfig(), None) == []
    plateau = budget_hooks(budget, TrainConfig(schedule="plateau", time_budget_s=10.0), None)
    assert [type(h) for h in plateau] == [BudgetHook]
    cosine = budget_hooks(budget, TrainConfig(schedule="cosine", time_budget_s=10.0), None)
    assert [type(h) for h in cosine] == [BudgetHook, ClockScheduleHook] and cosine[1].every == 5


def test_a_run_validates_and_saves_on_schedule_and_after_resume(tmp_path):
    data = toy_dataset(32, seed=1)
    config = dict(embed_dim=8, hidden_dim=16, num_layers=1, batch_size=8, max_len=24, eval_interval=4,
                  checkpoint_interval=6, log_interval=3, max_to_keep=10, val_max_examples=8, seed=2)
    first = train(TrainConfig(steps=11, **config), tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert [row["step"] for row in first.history] == [4, 8, 11]
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir()) == [6, 11]
    again = train(TrainConfig(steps=23, **config), tmp_path, data, data, vocab_size=VOCAB_SIZE, progress=False)
    assert again.start_step == 11 and [row["step"] for row in again.history] == [12, 16, 20, 23]
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir()) == [6, 11, 12, 18, 23]
    steps = [int(line.split(",")[0]) for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert sorted(set(steps)) == [3, 4, 6, 8, 9, 11, 12, 15, 16, 18, 20, 21, 23]
