"""Optimizer and learning-rate schedules: AdamW + global-norm clipping, warmup+cosine or reduce-on-plateau.

Reduce-on-plateau follows the validation loss, which is measured every `eval_interval` steps, not every step;
so its state lives apart from the AdamW chain (`TrainState.plateau`): the eval updates it with the validation
loss (`plateau_update`), and the train step multiplies the AdamW update by its current scale. The schedule
therefore scales the whole update, weight decay included, exactly like lowering the learning rate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from optax import contrib as optax_contrib

from jaxlua.train.config import TrainConfig


def learning_rate_schedule(config: TrainConfig) -> optax.Schedule:
    """Base learning rate per step: warmup then cosine decay ("cosine"), or warmup then constant ("plateau", and
    "cosine" under a time budget, whose cosine follows the clock: jaxlua.train.budget)."""
    warmup = config.warmup
    if config.schedule == "cosine" and config.time_budget_s <= 0:
        if warmup == 0:
            return optax.cosine_decay_schedule(config.lr, config.steps, alpha=config.min_lr_ratio)
        return optax.warmup_cosine_decay_schedule(
            0.0, config.lr, warmup, config.steps, end_value=config.lr * config.min_lr_ratio
        )
    if warmup == 0:
        return optax.constant_schedule(config.lr)
    return optax.join_schedules(
        [optax.linear_schedule(0.0, config.lr, warmup), optax.constant_schedule(config.lr)], [warmup]
    )


def _decay_mask(params):
    """Weight decay on matrices and embeddings only; biases and norm scales are left alone."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """The AdamW chain applied to the gradient of every parameter."""
    parts = []
    if config.clip_norm > 0:
        parts.append(optax.clip_by_global_norm(config.clip_norm))
    parts.append(
        optax.adamw(
            learning_rate_schedule(config),
            b1=config.b1,
            b2=config.b2,
            weight_decay=config.weight_decay,
            mask=_decay_mask,
        )
    )
    return optax.chain(*parts)


def make_plateau(config: TrainConfig) -> optax.GradientTransformationExtraArgs:
    """Reduce-on-plateau on validation loss (the dissertation: factor 0.5, patience 10 evaluations)."""
    return optax_contrib.reduce_on_plateau(factor=config.plateau_factor, patience=config.plateau_patience)


def plateau_update(config: TrainConfig, plateau_state, val_loss: float):
    """The plateau state after one validation loss (a no-op for the cosine schedule)."""
    if config.schedule != "plateau":
        return plateau_state
    _, new_state = _plateau_update_fn(config.plateau_factor, config.plateau_patience)(
        {}, plateau_state, value=jnp.float32(val_loss)
    )
    return new_state


_PLATEAU_FNS: dict[tuple[float, int], object] = {}


def _plateau_update_fn(factor: float, patience: int):
    key = (float(factor), int(patience))
    if key not in _PLATEAU_FNS:
        _PLATEAU_FNS[key] = jax.jit(optax_contrib.reduce_on_plateau(factor=factor, patience=patience).update)
    return _PLATEAU_FNS[key]
