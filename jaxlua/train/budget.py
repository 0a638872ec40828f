"""A wall-clock training budget: the learning rate decays with the share of the budget spent, not with steps.

With `TrainConfig.time_budget_s > 0` a run is limited by time, not by steps (the study compares models of
different speeds this way). The clock starts at the loop's first step, so compilation (one per batch width),
validation and, for the stream, program generation are paid out of the budget as in any real run. The
optimizer then warms up over `warmup` steps to a constant rate (`jaxlua.train.optimizer`), and the loop sets
the update scale (`TrainState.plateau.scale`, the factor reduce-on-plateau also uses) to a cosine of the budget's
spent share, from 1 down to `min_lr_ratio`; the run ends at the step where the budget is spent. Step times vary
with the batch width and the machine's load, so no step count planned in advance would end on time.

The seconds spent are saved in every checkpoint, so a resumed run continues the budget where it stopped, and a
larger `time_budget_s` continues a finished run. A budgeted run is not step-exact across machines;
`time_budget_s=0` with `steps=N` is.

In the loop the budget is two hooks: `BudgetHook` ends the run at the step where the budget is spent (every
step, first of all hooks, so the validation and save of a run's last step follow at that step), and
`ClockScheduleHook` sets the cosine's scale every `SCALE_EVERY` steps.
"""
from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
from absl import logging

from jaxlua.train.config import TrainConfig
from jaxlua.train.hooks import Hook, LoopState
from jaxlua.train.sharding import DataParallel

SCALE_EVERY = 5  # steps between updates of the scale (a host-to-device scalar; the cosine moves slowly)


@dataclasses.dataclass
class TimeBudget:
    """Seconds of training allowed, those spent by earlier processes of the run, and the cosine's floor."""

    seconds: float
    min_ratio: float
    spent_before: float = 0.0

    @classmethod
    def of(cls, config: TrainConfig, spent_before: float = 0.0) -> "TimeBudget | None":
        """The budget of `config` (None when it has none), resumed after `spent_before` seconds."""
        if config.time_budget_s <= 0:
            return None
        return cls(config.time_budget_s, config.min_lr_ratio, spent_before)

    def spent(self, elapsed: float) -> float:
        """Seconds of the budget spent, `elapsed` being this process's seconds since its first step."""
        return self.spent_before + elapsed

    def end_step(self, start: int, steps: int) -> int:
        """The step a run resumed at `start` ends at, as far as known now: `start` itself when the budget was
        spent before (the run is done), else the configured `steps`."""
        return start if start and self.done(0.0) else steps

    def done(self, elapsed: float) -> bool:
        """True once the budget is used up (the loop then ends at the current step)."""
        return self.spent(elapsed) >= self.seconds

    def scale(self, elapsed: float) -> float:
        """The learning-rate factor now: a cosine of the spent share, 1 at the start, `min_ratio` at the end."""
        share = min(1.0, self.spent(elapsed) / self.seconds)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * share))


class BudgetHook(Hook):
    """Every step: once the budget is spent, the run ends at this step (`LoopState.last`)."""

    def __init__(self, budget: TimeBudget) -> None:
        super().__init__(every=1)
        self._budget = budget

    def __call__(self, run: LoopState) -> None:
        if self._budget.done(run.elapsed):
            logging.info("time budget %.0f s spent at step %d", self._budget.seconds, run.step)
            run.last = run.step


class ClockScheduleHook(Hook):
    """Every `SCALE_EVERY` steps while the budget lasts: the update scale becomes the cosine of the spent share
    (the "cosine" schedule under a budget; one small host-to-device copy)."""

    def __init__(self, budget: TimeBudget, dp: DataParallel) -> None:
        super().__init__(every=SCALE_EVERY)
        self._budget, self._dp = budget, dp

    def __call__(self, run: LoopState) -> None:
        if self._budget.done(run.elapsed):
            return
        scale = jnp.asarray(self._budget.scale(run.elapsed), jnp.float32)
        run.state = run.state.replace(plateau=self._dp.replicate(run.state.plateau._replace(scale=scale)))


def budget_hooks(budget: TimeBudget | None, config: TrainConfig, dp: DataParallel) -> list[Hook]:
    """The hooks of `budget` (none without one): the end of the run, and the cosine's scale under "cosine"
    (under "plateau" the validation loss sets the scale)."""
    if budget is None:
        return []
    return [BudgetHook(budget)] + ([ClockScheduleHook(budget, dp)] if config.schedule == "cosine" else [])
