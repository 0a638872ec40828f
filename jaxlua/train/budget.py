"""A wall-clock training budget: measure the step rate, then plan the run's length so that its learning-rate
schedule ends when the budget does.

With `TrainConfig.time_budget_s > 0` a run is limited by time, not steps (the study compares models of
different speeds this way). The clock starts at the loop's first step, so compilation and validation are paid
out of the budget like in any real run. After `PROBE_END` steps the rate over steps `PROBE_START..PROBE_END`
gives the plan: the steps that fit in the time left, less a safety margin for validations, capped at
`config.steps`. The loop then rebuilds its train step with the planned total (one more compilation; the
optimizer state does not depend on the schedule's length) and stops at the plan, or earlier when the budget is
spent. The plan is saved in every checkpoint, so a resumed run finishes the same schedule.
"""
from __future__ import annotations

import dataclasses
import math

from jaxlua.train.config import TrainConfig

PROBE_START = 5   # steps after the first compile, before the rate is timed
PROBE_END = 25    # steps whose rate plans the run
MARGIN = 0.92     # share of the time left planned for steps (the rest absorbs validations and the recompile)


@dataclasses.dataclass
class TimeBudget:
    """The plan of one budgeted run (`planned_steps` None until the rate is known)."""

    seconds: float
    cap: int
    planned_steps: int | None = None
    _probe_begin: float | None = None

    @classmethod
    def of(cls, config: TrainConfig, planned_steps: int | None = None) -> "TimeBudget | None":
        """The budget of `config` (None when it has none); `planned_steps` restores a checkpointed plan."""
        if config.time_budget_s <= 0:
            return None
        return cls(config.time_budget_s, config.steps, planned_steps)

    def observe(self, done: int, elapsed: float) -> int | None:
        """Called after each step with the steps done and seconds since the loop began; returns the planned
        total once, when it is decided (at step PROBE_END)."""
        if self.planned_steps is not None:
            return None
        if done == PROBE_START:
            self._probe_begin = elapsed
        if done == PROBE_END and self._probe_begin is not None:
            per_step = (elapsed - self._probe_begin) / (PROBE_END - PROBE_START)
            left = max(0.0, self.seconds - elapsed) * MARGIN
            self.planned_steps = int(min(self.cap, done + max(1, math.floor(left / max(per_step, 1e-9)))))
            return self.planned_steps
        return None

    def spent(self, elapsed: float) -> bool:
        """True once the budget is used up (the loop then ends at the current step)."""
        return elapsed >= self.seconds

    def last_step(self, config_steps: int) -> int:
        """The step the run ends at, as far as is known now."""
        return self.planned_steps if self.planned_steps is not None else config_steps


def planned_config(config: TrainConfig, planned_steps: int) -> TrainConfig:
    """`config` with the schedule stretched over `planned_steps`, its warmup kept as it was in force."""
    warmup = config.warmup if config.warmup < planned_steps else planned_steps // 10
    return config.replace(steps=planned_steps, warmup_steps=warmup, time_budget_s=0.0)
