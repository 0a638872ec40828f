"""The training loop: a short step loop (batch -> jit train step) with everything else attached as hooks.

`train(config, workdir, train_data, val_data, ...)` is resumable: run it again with the same config and
data and it continues from the newest checkpoint in `workdir`, drawing the same batches and dropout masks
as an uninterrupted run (every random choice is a function of the seed and the step), so the final
parameters are identical. The batches come from a `BatchSource` (jaxlua.train.sources): an encoded training
split, or the program stream. After each step the hooks run, each saying how often (`jaxlua.train.hooks`):
the time budget, the training scalars, validation with reduce-on-plateau, the curriculum and the checkpoints.
A NaN or inf loss stops the run before it is checkpointed.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import threading
import time
from typing import Any, Callable

import jax
from absl import logging
from flax import nnx
from tqdm import tqdm

from jaxlua.train.batching import Arrays
from jaxlua.train.budget import TimeBudget, budget_hooks
from jaxlua.train.checkpoint import Checkpoints, prepare_workdir
from jaxlua.train.config import TrainConfig
from jaxlua.train.curriculum import Curriculum, CurriculumHook, CurriculumState
from jaxlua.train.distributed import StepAgreement, is_main_process
from jaxlua.train.hooks import (BestCheckpointHook, CheckpointHook, DivergenceGuard, Hook, LoopState, MetricsHook,
                                 TrainingDivergedError, run_hooks)
from jaxlua.train.model_state import build_model, count_params, initial_train_state
from jaxlua.train.optimizer import make_optimizer
from jaxlua.train.sharding import DataParallel
from jaxlua.train.sources import BatchSource, FixedSource
from jaxlua.train.step import TrainState, make_train_step
from jaxlua.train.validation import PlateauHook, ValidationHook, ValidationRecordHook, Validator, validation_subset
from jaxlua.train.writers import MetricWriter, NoWriter

__all__ = ["TrainResult", "TrainingDivergedError", "TrainingInterrupted", "loop_running", "request_stop", "train"]

_STOP = threading.Event()
_RUNNING = threading.Event()


def loop_running() -> bool:
    """True while `train` is inside its step loop, where a stop request is honoured at the next step."""
    return _RUNNING.is_set()


def request_stop() -> None:
    """Asks a running `train` to stop after its current step (a signal handler calls this; saves stay whole)."""
    _STOP.set()


class TrainingInterrupted(RuntimeError):
    """Ctrl-C or SIGTERM stopped the loop; `step` was reached, `checkpoint_step` is the newest saved step."""

    def __init__(self, step: int, checkpoint_step: int | None) -> None:
        saved = "none" if checkpoint_step is None else f"step {checkpoint_step}"
        super().__init__(f"stopped at step {step}; last checkpoint {saved}; re-run the same command to resume")
        self.step, self.checkpoint_step = step, checkpoint_step


@dataclasses.dataclass
class TrainResult:
    """What a finished run hands back: the trained model (eval mode) and its history."""

    model: nnx.Module
    state: TrainState
    config: TrainConfig
    history: list[dict[str, float]]
    start_step: int
    seconds: float
    best_val_loss: float
    data_scalars: dict[str, float] = dataclasses.field(default_factory=dict)  # the batch source's, at the end
    end_step: int = 0  # the last step trained (`steps`, or where the time budget ran out)


class ProgressBar:
    """The loop's progress bar, counting what bounds the run: seconds of the time budget (the steps done shown
    beside them), or steps when there is no budget."""

    def __init__(self, config: TrainConfig, budget: TimeBudget | None, start: int, enabled: bool) -> None:
        self._budget = budget
        if budget is None:
            self._bar = tqdm(total=config.steps, initial=start, disable=not enabled, desc=f"train {config.model.cell}",
                             unit="step", dynamic_ncols=True)
        else:
            fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
            self._bar = tqdm(total=round(budget.seconds), initial=min(budget.spent(0.0), budget.seconds),
                             disable=not enabled, desc=f"train {config.model.cell} (time budget)", unit="s",
                             bar_format=fmt, dynamic_ncols=True)
        self._postfix: dict[str, str] = {}

    def advance(self, step: int, elapsed: float) -> None:
        """After `step` steps, `elapsed` seconds into this process's loop."""
        if self._budget is None:
            self._bar.update(1)
            return
        self._postfix["step"] = str(step)
        self._bar.set_postfix(self._postfix, refresh=False)
        spent = min(self._budget.spent(elapsed), self._budget.seconds)
        self._bar.update(spent - self._bar.n)

    def set_postfix(self, **values: str) -> None:
        self._postfix.update(values)
        self._bar.set_postfix(self._postfix)

    def close(self) -> None:
        self._bar.close()


def train(
    config: TrainConfig,
    workdir: str | pathlib.Path,
    train_data: Any,
    val_data: Any,
    *,
    vocab: Any | None = None,
    vocab_size: int | None = None,
    dataset_info: dict[str, Any] | None = None,
    build_fn: Callable[[TrainConfig, int], nnx.Module] = build_model,
    devices: list[jax.Device] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Trains (or resumes training) `config`; checkpoints into `workdir`.

    `train_data`: an encoded training split, or a `BatchSource` (e.g. a `StreamSource`); `val_data`: the encoded
    validation set (a seeded subset of `config.val_max_examples` programs is used). Raises
    `TrainingDivergedError` on a NaN or inf loss and `TrainingInterrupted` on a stop request.
    """
    config.validate()
    vocab_size = len(vocab) if vocab_size is None else vocab_size
    source = train_data if isinstance(train_data, BatchSource) else FixedSource(Arrays.from_encoded(train_data), config)
    val_arrays = validation_subset(Arrays.from_encoded(val_data), config.val_max_examples, config.seed)
    workdir = prepare_workdir(workdir, config, dataset_info or {}, vocab)
    dp = DataParallel(devices)
    dp.check_batch_size(config.batch_size)

    model = build_fn(config, vocab_size)
    state, graphs = initial_train_state(model, config)
    logging.info("model: %s cell, %d parameters; %d devices", config.model.cell, count_params(state.params), dp.num_devices)
    state = dp.replicate(state)
    checkpoints = Checkpoints(workdir, config.max_to_keep)
    state, cstate, best_val_loss, budget_spent = _resume(checkpoints, state, source.curriculum, config, workdir)
    start = int(jax.device_get(state.step))
    budget = TimeBudget.of(config, budget_spent)

    validator = Validator(val_arrays, config, graphs.eval_def, dp, source.edges)
    logging.info("loss window: %d positions per row (%s)", source.loss_window, source.window_reason)
    train_step = make_train_step(graphs.train_def, make_optimizer(config), config, dp.shardings,
                                 loss_window=source.loss_window)
    rng = dp.replicate(jax.random.key(config.seed))
    writer = MetricWriter(workdir, resume_step=start) if is_main_process() else NoWriter()
    agreement = StepAgreement()  # past one process: the same clock and stop step in all of them
    begin = time.perf_counter()

    def clock() -> float:  # seconds since this process's first step
        return time.perf_counter() - begin

    bar = ProgressBar(config, budget, start, progress and is_main_process())
    hooks = _hooks(config, workdir, dp, source, validator, checkpoints, writer, bar, budget, clock)
    last = config.steps if budget is None else budget.end_step(start, config.steps)
    run = LoopState(state, cstate, step=start, last=last, best_val_loss=best_val_loss,
                    last_saved=checkpoints.latest_step())
    _RUNNING.set()
    try:
        for step in range(start, config.steps):
            if agreement.stop_requested(_STOP.is_set()):
                raise KeyboardInterrupt
            if run.step >= run.last:
                break
            host_batch = source.batch(step, run.cstate)
            run.state, metrics = train_step(run.state, dp.shard_batch(host_batch), rng)
            run.trained(metrics, int(host_batch["lengths"].sum()))
            run.elapsed = agreement.after_step(clock(), _STOP.is_set())
            bar.advance(run.step, run.elapsed)
            run_hooks(hooks, run)
    except KeyboardInterrupt:
        _STOP.clear()  # the request is answered; a later run starts afresh
        raise TrainingInterrupted(run.step, run.last_saved) from None
    finally:
        _RUNNING.clear()
        bar.close()
        checkpoints.wait()
        checkpoints.close()
        writer.close()
    data_scalars = source.scalars()
    if "consumer_wait_s" in data_scalars:
        logging.info("data: the trainer waited %.2f s in total for batches over steps %d-%d",
                     data_scalars["consumer_wait_s"], start, run.step)
    model = nnx.merge(graphs.eval_def, run.state.params, run.state.rest)
    model.eval()
    return TrainResult(model=model, state=run.state, config=config, history=run.history, start_step=start,
                       seconds=clock(), best_val_loss=run.best_val_loss, data_scalars=data_scalars,
                       end_step=run.step)


def _resume(checkpoints: Checkpoints, state: TrainState, curriculum: Curriculum, config: TrainConfig,
            workdir: pathlib.Path) -> tuple[TrainState, CurriculumState, float, float]:
    """(train state, curriculum state, best validation loss, budget seconds spent) of the newest intact
    checkpoint, or of a fresh run (`state` as built) when there is none."""
    restored = checkpoints.restore(state)
    if restored is None:
        return state, curriculum.initial_state(), math.inf, 0.0
    state, meta = restored
    logging.info("resuming from step %d of %d in %s", meta["step"], config.steps, workdir)
    return (state, CurriculumState(**meta["curriculum"]), float(meta["best_val_loss"]),
            float(meta.get("budget_spent_s", 0.0)))


def _hooks(config: TrainConfig, workdir: pathlib.Path, dp: DataParallel, source: BatchSource, validator: Validator,
           checkpoints: Checkpoints, writer: MetricWriter | NoWriter, bar: ProgressBar, budget: TimeBudget | None,
           clock: Callable[[], float]) -> list[Hook]:
    """The run's hooks in the order of their effects after a step: the budget may end the run here, the training
    scalars are checked before any validation or save, validation feeds the plateau schedule, its record and
    the curriculum, and the saves come last, holding the state every other hook left."""
    guard = DivergenceGuard(checkpoints, workdir)
    validation = ValidationHook(validator, guard, every=config.eval_interval)
    checkpoint = CheckpointHook(checkpoints, budget, clock, every=config.checkpoint_interval)
    return [
        *budget_hooks(budget, config, dp),
        MetricsHook(writer, guard, bar.set_postfix, source.scalars, every=config.log_interval,
                    also=(validation, checkpoint)),
        validation,
        PlateauHook(config, dp, every=config.eval_interval),
        ValidationRecordHook(writer, clock, every=config.eval_interval),
        CurriculumHook(source.curriculum, budget),
        BestCheckpointHook(checkpoints, budget, clock, every=config.eval_interval),
        checkpoint,
    ]
