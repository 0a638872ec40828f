"""In-loop validation and what follows from it: the reduce-on-plateau schedule and the validation record.

Every `eval_interval` steps and after the last one, three hooks run in this order: `ValidationHook` measures
the validation loss, perplexity and teacher-forced exact match (overall and per level) and stops a diverged run;
`PlateauHook` feeds the loss to reduce-on-plateau and records the learning-rate scale; `ValidationRecordHook`
writes the results to the metrics log and the run's history. The curriculum (`jaxlua.train.curriculum`) and the
best checkpoint (`jaxlua.train.hooks`) read the same results after them.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import jax
import numpy as np
from absl import logging
from flax import nnx

from jaxlua.train.batching import Arrays, eval_batches
from jaxlua.train.config import TrainConfig
from jaxlua.train.hooks import DivergenceGuard, Hook, LoopState
from jaxlua.train.optimizer import plateau_update
from jaxlua.train.sharding import DataParallel
from jaxlua.train.step import TrainState, make_eval_step
from jaxlua.train.writers import MetricWriter, NoWriter

_LEVEL_PREFIX = "val_exact_match_level"  # per-level exact match: f"{_LEVEL_PREFIX}{level}"


def validation_subset(data: Arrays, max_examples: int, seed: int) -> Arrays:
    """A seeded sample of at most `max_examples` validation rows (all of them when there are fewer)."""
    if len(data) <= max_examples:
        return data
    rows = np.sort(np.random.default_rng([seed, 11]).permutation(len(data))[:max_examples])
    return data.subset(rows)


def exact_match_by_level(metrics: dict[str, float]) -> dict[int, float]:
    """{level: teacher-forced exact match} from a validation's results."""
    return {int(k[len(_LEVEL_PREFIX):]): v for k, v in metrics.items() if k.startswith(_LEVEL_PREFIX)}


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
            result[f"{_LEVEL_PREFIX}{int(level)}"] = float(correct[levels == level].mean())
        return result


class ValidationHook(Hook):
    """Validates every `every` steps and after the last one into `run.val`; a NaN or inf loss stops the run."""

    def __init__(self, validator: Validator, guard: DivergenceGuard, every: int) -> None:
        super().__init__(every, at_end=True)
        self._validator, self._guard = validator, guard

    def __call__(self, run: LoopState) -> None:
        val = self._validator(run.state)
        if not math.isfinite(val["val_loss"]):
            self._guard.stop(f"validation loss became {val['val_loss']} at step {run.step}", run)
        run.val = val


class PlateauHook(Hook):
    """Reduce-on-plateau: feeds this step's validation loss to the schedule (a no-op under "cosine") and adds the
    learning-rate scale now in force to the results as `lr_scale`."""

    def __init__(self, config: TrainConfig, dp: DataParallel, every: int) -> None:
        super().__init__(every, at_end=True)
        self._config, self._dp = config, dp

    def __call__(self, run: LoopState) -> None:
        plateau = plateau_update(self._config, run.state.plateau, run.val["val_loss"])
        run.state = run.state.replace(plateau=self._dp.replicate(plateau))
        run.val["lr_scale"] = float(jax.device_get(run.state.plateau.scale))


class ValidationRecordHook(Hook):
    """Writes this step's validation results to the metrics log (with the seconds since this process's first
    step, for learning curves in time) and to the run's history."""

    def __init__(self, writer: MetricWriter | NoWriter, clock: Callable[[], float], every: int) -> None:
        super().__init__(every, at_end=True)
        self._writer, self._clock = writer, clock

    def __call__(self, run: LoopState) -> None:
        val = run.val
        self._writer.write(run.step, {**val, "elapsed_s": self._clock()})
        run.history.append({"step": run.step, **val})
        logging.info("step %d: val_loss %.4f, val_exact_match %.3f", run.step, val["val_loss"], val["val_exact_match"])
