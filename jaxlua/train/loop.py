"""The training loop: batches -> jit train step -> logs, validation, curriculum, checkpoints, resume.

`train(config, workdir, train_data, val_data, ...)` is resumable: run it again with the same config and
data and it continues from the newest checkpoint in `workdir`, drawing the same batches and dropout masks
as an uninterrupted run (every random choice is a function of the seed and the step), so the final
parameters are identical. The batches come from a `BatchSource` (jaxlua.train.sources): an encoded training
split, or the program stream. A NaN or inf loss stops the run before it is checkpointed.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import threading
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax import nnx
from tqdm import tqdm

from jaxlua.train.batching import Arrays, eval_batches
from jaxlua.train.budget import SCALE_EVERY, TimeBudget
from jaxlua.train.checkpoint import Checkpoints, prepare_workdir
from jaxlua.train.config import TrainConfig
from jaxlua.train.curriculum import CurriculumState
from jaxlua.train.distributed import StepAgreement, is_main_process
from jaxlua.train.model_state import build_model, count_params, initial_train_state
from jaxlua.train.optimizer import make_optimizer, plateau_update
from jaxlua.train.sharding import DataParallel
from jaxlua.train.sources import BatchSource, FixedSource
from jaxlua.train.step import TrainState, make_eval_step, make_train_step
from jaxlua.train.writers import MetricWriter, NoWriter


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


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


def validation_subset(data: Arrays, max_examples: int, seed: int) -> Arrays:
    """A seeded sample of at most `max_examples` validation rows (all of them when there are fewer)."""
    if len(data) <= max_examples:
        return data
    rows = np.sort(np.random.default_rng([seed, 11]).permutation(len(data))[:max_examples])
    return data.subset(rows)


class Validator:
    """Validation loss, perplexity and teacher-forced exact match (overall and per level) in one pass."""

    def __init__(
        self, data: Arrays, config: TrainConfig, eval_def: nnx.GraphDef, dp: DataParallel, edges: tuple[int, ...]
    ):
        self._levels = data.level
        self._batches = eval_batches(data, config.batch_size, edges)
        self._step = make_eval_step(eval_def, config, dp.shardings)
        self._dp = dp

    def __call__(self, state: TrainState) -> dict[str, float]:
        nll, tokens, correct, rows = [], [], [], []
        for batch in self._batches:
            arrays = {k: v for k, v in batch.items() if k != "row"}
            out = self._dp.fetch(self._step(state.params, state.rest, self._dp.shard_batch(arrays)))
            real = batch["row"] >= 0
            nll.append(out["nll"][real]), tokens.append(out["tokens"][real]), correct.append(out["correct"][real])
            rows.append(batch["row"][real])
        nll, tokens, correct = np.concatenate(nll), np.concatenate(tokens), np.concatenate(correct)
        levels = self._levels[np.concatenate(rows)]
        val_loss = float(nll.sum() / max(tokens.sum(), 1.0))
        result = {
            "val_loss": val_loss,
            "val_perplexity": math.exp(min(val_loss, 50.0)),
            "val_exact_match": float(correct.mean()),
        }
        for level in np.unique(levels):
            result[f"val_exact_match_level{int(level)}"] = float(correct[levels == level].mean())
        return result


def _em_by_level(metrics: dict[str, float]) -> dict[int, float]:
    prefix = "val_exact_match_level"
    return {int(k[len(prefix) :]): v for k, v in metrics.items() if k.startswith(prefix)}


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
    validation set (a seeded subset of `config.val_max_examples` programs is used).
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
    curriculum = source.curriculum
    cstate, best_val_loss, budget_spent = curriculum.initial_state(), math.inf, 0.0
    restored = checkpoints.restore(state)
    if restored is not None:
        state, meta = restored
        cstate = CurriculumState(**meta["curriculum"])
        best_val_loss = float(meta["best_val_loss"])
        budget_spent = float(meta.get("budget_spent_s", 0.0))
        logging.info("resuming from step %d of %d in %s", meta["step"], config.steps, workdir)
    start = int(jax.device_get(state.step))
    budget = TimeBudget.of(config, budget_spent)
    clock_schedule = budget is not None and config.schedule == "cosine"  # else plateau sets the scale

    validator = Validator(val_arrays, config, graphs.eval_def, dp, source.edges)
    logging.info("loss window: %d positions per row (%s)", source.loss_window, source.window_reason)
    train_step = make_train_step(graphs.train_def, make_optimizer(config), config, dp.shardings,
                                 loss_window=source.loss_window)
    rng = dp.replicate(jax.random.key(config.seed))
    writer = MetricWriter(workdir, resume_step=start) if is_main_process() else NoWriter()
    agreement = StepAgreement()  # past one process: the same clock and stop step in all of them
    history: list[dict[str, float]] = []
    pending: list[dict[str, jax.Array]] = []
    pending_tokens, window_start, begin = 0, time.perf_counter(), time.perf_counter()
    last_saved = checkpoints.latest_step()

    def meta(step: int) -> dict[str, Any]:
        values = {"step": step, "curriculum": cstate.to_dict(), "best_val_loss": best_val_loss}
        if budget is not None:
            values["budget_spent_s"] = budget.spent(time.perf_counter() - begin)
        return values

    def flush(step: int) -> dict[str, float]:
        nonlocal pending, pending_tokens, window_start
        values = jax.device_get(pending)
        losses = np.array([v["loss"] for v in values])
        if not np.isfinite(losses).all():
            bad = step - len(values) + int(np.flatnonzero(~np.isfinite(losses))[0]) + 1
            checkpoints.wait()
            raise TrainingDivergedError(
                f"loss became {losses[~np.isfinite(losses)][0]} at step {bad}; stopped. The last good checkpoint "
                f"(step {last_saved}) is kept in {workdir}/checkpoints. Try a lower --lr or --clip_norm."
            )
        elapsed = time.perf_counter() - window_start
        scalars = {name: float(np.mean([v[name] for v in values])) for name in values[0] if name != "tokens"}
        scalars["tokens_per_s"] = pending_tokens / max(elapsed, 1e-9)
        scalars["stage"] = cstate.stage if cstate.mastery is None else cstate.mastery["admitted"]
        scalars.update(source.scalars())
        pending, pending_tokens, window_start = [], 0, time.perf_counter()
        return scalars

    bar = ProgressBar(config, budget, start, progress and is_main_process())
    done = start
    last = start if budget is not None and start and budget.done(0.0) else config.steps  # a spent budget: done
    _RUNNING.set()
    try:
        for step in range(start, config.steps):
            if agreement.stop_requested(_STOP.is_set()):
                raise KeyboardInterrupt
            if done >= last:
                break
            host_batch = source.batch(step, cstate)
            state, metrics = train_step(state, dp.shard_batch(host_batch), rng)
            pending.append(metrics)
            pending_tokens += int(host_batch["lengths"].sum())
            done = step + 1
            now = agreement.after_step(time.perf_counter() - begin, _STOP.is_set())
            bar.advance(done, now)
            if budget is not None:
                elapsed = now
                if budget.done(elapsed):
                    logging.info("time budget %.0f s spent at step %d", budget.seconds, done)
                    last = done
                elif clock_schedule and done % SCALE_EVERY == 0:  # the learning rate follows the clock
                    scale = jnp.asarray(budget.scale(elapsed), jnp.float32)
                    state = state.replace(plateau=dp.replicate(state.plateau._replace(scale=scale)))
            new_cstate = curriculum.on_step(cstate, done)
            if budget is not None:
                new_cstate = curriculum.on_share(new_cstate, done, budget.spent(elapsed) / budget.seconds)
            eval_due = done % config.eval_interval == 0 or done == last
            save_due = done % config.checkpoint_interval == 0 or done == last
            if done % config.log_interval == 0 or eval_due or save_due:
                scalars = flush(done)
                writer.write(done, scalars)
                bar.set_postfix(loss=f"{scalars['loss']:.3f}", tok_s=f"{scalars['tokens_per_s']:.0f}")
            if eval_due:
                val = validator(state)
                if not math.isfinite(val["val_loss"]):
                    checkpoints.wait()
                    raise TrainingDivergedError(
                        f"validation loss became {val['val_loss']} at step {done}; stopped. The "
                        f"last good checkpoint (step {last_saved}) is kept in {workdir}/checkpoints."
                    )
                state = state.replace(plateau=dp.replicate(plateau_update(config, state.plateau, val["val_loss"])))
                val["lr_scale"] = float(jax.device_get(state.plateau.scale))
                new_cstate = curriculum.on_eval(new_cstate, done, _em_by_level(val))
                # The CSV also gets the wall clock since this process's first step (learning curves in time).
                writer.write(done, {**val, "elapsed_s": time.perf_counter() - begin})
                history.append({"step": done, **val})
                logging.info(
                    "step %d: val_loss %.4f, val_exact_match %.3f", done, val["val_loss"], val["val_exact_match"]
                )
            if new_cstate.mastery is not None and new_cstate.mastery["admitted"] != cstate.mastery["admitted"]:
                logging.info("mastery: level %s admitted at step %d (mix %s)",
                             curriculum.mastery.levels[new_cstate.mastery["admitted"] - 1], done,
                             [round(w, 4) for w in new_cstate.mastery["mix"][-1][1]])
            if new_cstate.stage != cstate.stage:
                logging.info(
                    "curriculum: stage %d -> %d (levels %s) at step %d",
                    cstate.stage,
                    new_cstate.stage,
                    curriculum.stages[new_cstate.stage],
                    done,
                )
            cstate = new_cstate
            if eval_due and val["val_loss"] < best_val_loss:
                best_val_loss = val["val_loss"]
                checkpoints.save(done, state, meta(done), best=True)
            if save_due:
                checkpoints.save(done, state, meta(done))
                last_saved = done
    except KeyboardInterrupt:
        _STOP.clear()  # the request is answered; a later run starts afresh
        raise TrainingInterrupted(done, last_saved) from None
    finally:
        _RUNNING.clear()
        bar.close()
        checkpoints.wait()
        checkpoints.close()
        writer.close()
    data_scalars = source.scalars()
    if "consumer_wait_s" in data_scalars:
        logging.info("data: the trainer waited %.2f s in total for batches over steps %d-%d",
                     data_scalars["consumer_wait_s"], start, done)
    model = nnx.merge(graphs.eval_def, state.params, state.rest)
    model.eval()
    return TrainResult(
        model=model,
        state=state,
        config=config,
        history=history,
        start_step=start,
        seconds=time.perf_counter() - begin,
        best_val_loss=best_val_loss,
        data_scalars=data_scalars,
        end_step=done,
    )
