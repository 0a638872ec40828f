"""Hooks: what the training loop does after a step, each saying how often it runs.

The step loop (`jaxlua.train.loop`) trains one batch per step, then runs its hooks in a fixed order. A hook is
due after a step that is a multiple of its `every` (global step counts, so a run resumed at step 7 with
`every=5` runs it at 10, 15, ...) and, when `at_end`, after the run's last step: the configured step count, or
the step where the time budget ran out. Whether a hook is due is decided when its turn comes, so a hook that
ends the run (the budget) makes the `at_end` hooks after it run at this very step.

The hooks share one `LoopState` and change it in turn: the order of the list is the order of effects (the
budget first, the training scalars before any validation or save, the curriculum after the validation it
reads, saves last, so a save holds the state every other hook left). This module holds the mechanism, the
state, the divergence stop, and the hooks of the loop's own outputs (training scalars, checkpoints); the budget,
validation and curriculum hooks live beside their concepts (`budget`, `validation`, `curriculum`).
"""
from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import jax
import numpy as np

if TYPE_CHECKING:
    from jaxlua.train.budget import TimeBudget
    from jaxlua.train.checkpoint import Checkpoints
    from jaxlua.train.curriculum import CurriculumState
    from jaxlua.train.step import TrainState
    from jaxlua.train.writers import MetricWriter, NoWriter


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


@dataclasses.dataclass
class LoopState:
    """What the step loop and its hooks share, changed in place as a step's hooks run."""

    state: TrainState
    cstate: CurriculumState  # the curriculum state the next batch is drawn with
    step: int  # steps done: the global step count after the step just trained
    last: int  # the step the run ends at (the budget may bring it forward)
    best_val_loss: float
    last_saved: int | None  # the newest periodic checkpoint's step
    elapsed: float = 0.0  # seconds since this process's first step (the slowest process's, past one)
    val: dict[str, float] | None = None  # this step's validation results; None when none ran
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)  # every validation of this process
    pending: list[dict[str, jax.Array]] = dataclasses.field(default_factory=list)  # device metrics not yet logged
    pending_tokens: int = 0  # tokens trained in the steps of `pending`

    def trained(self, metrics: dict[str, jax.Array], tokens: int) -> None:
        """Records one trained step (its metrics stay on the device until they are logged); the previous step's
        validation results are cleared."""
        self.step += 1
        self.val = None
        self.pending.append(metrics)
        self.pending_tokens += tokens


class Hook:
    """Runs after every `every`-th step (global count) and, if `at_end`, after the run's last step."""

    def __init__(self, every: int, at_end: bool = False) -> None:
        if every < 1:
            raise ValueError(f"a hook runs every >= 1 steps, got {every}")
        self.every, self.at_end = every, at_end

    def due(self, step: int, last: int) -> bool:
        """True when the hook runs after `step`, `last` being the step the run ends at."""
        return step % self.every == 0 or (self.at_end and step == last)

    def __call__(self, run: LoopState) -> None:
        raise NotImplementedError


def run_hooks(hooks: Sequence[Hook], run: LoopState) -> None:
    """Runs the hooks due after `run.step`, in order (each one's due is decided when its turn comes)."""
    for hook in hooks:
        if hook.due(run.step, run.last):
            hook(run)


class DivergenceGuard:
    """Stops the run on a NaN or inf loss, naming the last good checkpoint (pending saves are finished first)."""

    def __init__(self, checkpoints: Checkpoints, workdir: pathlib.Path) -> None:
        self._checkpoints, self._workdir = checkpoints, workdir

    def stop(self, what: str, run: LoopState, hint: str = "") -> NoReturn:
        self._checkpoints.wait()
        raise TrainingDivergedError(f"{what}; stopped. The last good checkpoint (step {run.last_saved}) is kept in "
                                    f"{self._workdir}/checkpoints.{hint}")


class MetricsHook(Hook):
    """Logs the training scalars (means over the steps since the last log) every `every` steps, and before every
    step where one of `also` runs, so that no validation or save follows an unchecked loss. The step metrics
    stay on the device until here, so the steps between logs wait for nothing; a NaN or inf training loss stops
    the run here."""

    def __init__(self, writer: MetricWriter | NoWriter, guard: DivergenceGuard, show: Callable[..., None],
                 data_scalars: Callable[[], dict[str, float]], every: int, also: Sequence[Hook] = ()) -> None:
        super().__init__(every)
        self._writer, self._guard, self._show, self._data_scalars, self._also = writer, guard, show, data_scalars, also
        self._window_start = time.perf_counter()

    def due(self, step: int, last: int) -> bool:
        return super().due(step, last) or any(hook.due(step, last) for hook in self._also)

    def __call__(self, run: LoopState) -> None:
        values = jax.device_get(run.pending)
        losses = np.array([v["loss"] for v in values])
        if not np.isfinite(losses).all():
            bad = run.step - len(values) + int(np.flatnonzero(~np.isfinite(losses))[0]) + 1
            self._guard.stop(f"loss became {losses[~np.isfinite(losses)][0]} at step {bad}", run,
                             " Try a lower --lr or --clip_norm.")
        seconds = time.perf_counter() - self._window_start
        scalars = {name: float(np.mean([v[name] for v in values])) for name in values[0] if name != "tokens"}
        scalars["tokens_per_s"] = run.pending_tokens / max(seconds, 1e-9)
        scalars["stage"] = run.cstate.progress  # the curriculum the logged steps' last batch was drawn in
        scalars.update(self._data_scalars())
        run.pending, run.pending_tokens, self._window_start = [], 0, time.perf_counter()
        self._writer.write(run.step, scalars)
        self._show(loss=f"{scalars['loss']:.3f}", tok_s=f"{scalars['tokens_per_s']:.0f}")


def checkpoint_meta(run: LoopState, budget: TimeBudget | None, clock: Callable[[], float]) -> dict[str, Any]:
    """The loop's state saved beside the train state: what a resumed run needs to continue exactly."""
    values = {"step": run.step, "curriculum": run.cstate.to_dict(), "best_val_loss": run.best_val_loss}
    if budget is not None:
        values["budget_spent_s"] = budget.spent(clock())
    return values


class CheckpointHook(Hook):
    """Saves a periodic checkpoint every `every` steps and after the last one."""

    def __init__(self, checkpoints: Checkpoints, budget: TimeBudget | None, clock: Callable[[], float],
                 every: int) -> None:
        super().__init__(every, at_end=True)
        self._checkpoints, self._budget, self._clock = checkpoints, budget, clock

    def __call__(self, run: LoopState) -> None:
        self._checkpoints.save(run.step, run.state, checkpoint_meta(run, self._budget, self._clock))
        run.last_saved = run.step


class BestCheckpointHook(CheckpointHook):
    """Saves the best checkpoint when this step's validation loss is the lowest so far (schedule it with the
    validation's `every`)."""

    def __call__(self, run: LoopState) -> None:
        if run.val is not None and run.val["val_loss"] < run.best_val_loss:
            run.best_val_loss = run.val["val_loss"]
            self._checkpoints.save(run.step, run.state, checkpoint_meta(run, self._budget, self._clock), best=True)
