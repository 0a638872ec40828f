"""The train and eval steps: pure functions of (state, batch, rng), jit-compiled with the state donated.

The model is handled functionally (`nnx.split` once, `nnx.merge` inside the step), so the step is a plain
`jax.jit` over arrays. Loss: softmax cross-entropy with label smoothing on the output tokens (after
`<PROGRAM END>` through `<EOS>`), optionally on the program tokens too (as TEX did); padding never counts.
Gradients are taken with respect to every `nnx.Param` of the model (embedding, cell, attention, experts, head).
"""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxlua.train.config import TrainConfig


@flax.struct.dataclass
class TrainState:
    """Everything a training step reads and writes; checkpointed whole."""

    step: jax.Array  # int32 scalar: number of completed steps.
    params: Any  # nnx.State of every nnx.Param.
    rest: Any  # nnx.State of the other model variables (RNG streams).
    opt_state: Any
    plateau: Any  # optax.contrib reduce_on_plateau state; its scale multiplies every update.


def split_model(model: nnx.Module) -> tuple[nnx.GraphDef, nnx.GraphDef, Any, Any]:
    """(train graphdef, eval graphdef, params, rest): dropout on in the first graph, off in the second."""
    model.train()
    train_def, params, rest = nnx.split(model, nnx.Param, ...)
    model.eval()
    eval_def, _, _ = nnx.split(model, nnx.Param, ...)
    model.train()
    return train_def, eval_def, params, rest


def init_state(
    params: Any, rest: Any, tx: optax.GradientTransformation, plateau: optax.GradientTransformation
) -> TrainState:
    return TrainState(
        step=jnp.zeros((), jnp.int32), params=params, rest=rest, opt_state=tx.init(params), plateau=plateau.init(params)
    )


def _reseed(model: nnx.Module, key: jax.Array) -> None:
    """Gives every RNG stream of the model (dropout) a key derived from `key`: the step owns its randomness."""
    for index, (_, stream) in enumerate(nnx.iter_graph(model)):
        if isinstance(stream, nnx.RngStream):
            old = stream.key.get_value()
            new = jax.random.fold_in(key, index)
            if not jnp.issubdtype(old.dtype, jax.dtypes.prng_key):
                new = jax.random.key_data(new)
            stream.key.set_value(jnp.broadcast_to(new, old.shape) if old.shape else new)
            stream.count.set_value(jnp.zeros(stream.count.get_value().shape, jnp.uint32))


def shifted(batch: dict[str, jax.Array], include_program: bool):
    """(inputs [B,T-1], targets [B,T-1], input mask, loss mask) for next-token prediction on a batch."""
    tokens = batch["tokens"]
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    lengths = batch["lengths"][:, None]
    target_pos = jnp.arange(1, tokens.shape[1])[None, :]
    input_mask = (target_pos - 1) < lengths
    first = jnp.ones_like(batch["output_start"]) if include_program else batch["output_start"]
    loss_mask = (target_pos < lengths) & (target_pos >= first[:, None]) & (lengths > 0)
    return inputs, targets, input_mask, loss_mask


def token_losses(logits: jax.Array, targets: jax.Array, smoothing: float) -> tuple[jax.Array, jax.Array]:
    """(smoothed cross-entropy, plain negative log-likelihood) per position, in float32.

    Cross-entropy against `optax.smooth_labels(one_hot(targets), eps)` in closed form, with no [B,T,V] one-hot:
    `-log p = lse - logit`, so the loss is `(1 - eps) nll + eps mean_v(-log p_v) = lse - (1 - eps) logit_t -
    eps mean_v(logit_v)`, with `lse` the log-sum-exp of the logits.
    """
    logits = logits.astype(jnp.float32)
    lse = jax.nn.logsumexp(logits, axis=-1)
    nll = lse - jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    if smoothing == 0.0:
        return nll, nll
    return (1.0 - smoothing) * nll + smoothing * (lse - logits.mean(axis=-1)), nll


def output_span(lengths: np.ndarray, output_start: np.ndarray) -> int:
    """The most target positions any row's output loss reads: max(lengths - output_start), at least 1.

    Row b's output loss reads the shifted positions `output_start[b] - 1 ... lengths[b] - 2`; a loss window of
    this many positions from each row's first output position therefore covers every output token of the data.
    """
    lengths, output_start = np.asarray(lengths), np.asarray(output_start)
    real = lengths > 0
    if not real.any():
        return 1
    return max(1, int((lengths[real] - np.maximum(output_start[real], 1)).max()))


def loss_window_positions(batch: dict[str, jax.Array], window: int, width: int) -> tuple[jax.Array, jax.Array]:
    """(indices int32[B, W], in-range bool[B, W]) of each row's `window` shifted positions from its first output.

    `width` is the number of shifted positions (T - 1); W = min(window, width). Indices past the end are clamped
    (and flagged out of range so that the clamped duplicates carry no loss).
    """
    window = min(window, width)
    start = jnp.clip(batch["output_start"] - 1, 0, width - 1)
    index = start[:, None] + jnp.arange(window)[None, :]
    return jnp.minimum(index, width - 1), index < width


def make_train_step(
    train_def: nnx.GraphDef,
    tx: optax.GradientTransformation,
    config: TrainConfig,
    shardings: tuple[Any, Any] | None = None,
    loss_window: int | None = None,
) -> Callable:
    """jit(step)(state, batch, rng) -> (state, metrics); `state` is donated. `shardings` = (replicated, batch).

    `loss_window`: when set (and the loss is on the outputs only), the final norm, the head and the loss run on
    `loss_window` positions per row starting at its first output position, not on all T: the output is a short
    suffix of a long program, so this skips most of the [B, T, V] logits. It must be at least
    `output_span(lengths, output_start)` of the data, or output tokens past the window go unscored (the loop
    computes it from the training split). The loss and gradients equal the full-width ones up to float rounding.
    """
    smoothing, include_program, aux_weight = config.label_smoothing, config.include_program_loss, config.aux_loss_weight
    if loss_window is not None and loss_window < 1:
        raise ValueError(f"loss_window must be a positive number of positions or None; got {loss_window}")
    window = None if include_program else loss_window

    def loss_fn(params, rest, batch):
        model = nnx.merge(train_def, params, rest, copy=True)  # fresh Variables: dropout counts mutate in here.
        inputs, targets, input_mask, loss_mask = shifted(batch, include_program)
        features, aux_loss = model.features(inputs, input_mask)
        if window is not None and window < inputs.shape[1]:
            index, in_range = loss_window_positions(batch, window, inputs.shape[1])
            features = jnp.take_along_axis(features, index[..., None], axis=1)
            targets = jnp.take_along_axis(targets, index, axis=1)
            loss_mask = jnp.take_along_axis(loss_mask, index, axis=1) & in_range
        logits = model.logits(features)
        smoothed, nll = token_losses(logits, targets, smoothing)
        weights = loss_mask.astype(jnp.float32)
        count = weights.sum()
        denom = jnp.maximum(count, 1.0)
        loss = (smoothed * weights).sum() / denom + aux_weight * aux_loss.astype(jnp.float32)
        metrics = {
            "loss": loss,
            "nll": (nll * weights).sum() / denom,
            "aux_loss": aux_loss.astype(jnp.float32),
            "accuracy": ((jnp.argmax(logits, -1) == targets) * weights).sum() / denom,
            "tokens": count,
        }
        return loss, (metrics, nnx.state(model, nnx.Not(nnx.Param)))

    def step(state: TrainState, batch: dict[str, jax.Array], rng: jax.Array):
        model = nnx.merge(train_def, state.params, state.rest)
        _reseed(model, jax.random.fold_in(rng, state.step))
        rest = nnx.state(model, nnx.Not(nnx.Param))
        grads, (metrics, _) = jax.grad(loss_fn, has_aux=True)(state.params, rest, batch)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        scale = state.plateau.scale
        updates = jax.tree.map(lambda u: (u * scale).astype(u.dtype), updates)
        params = optax.apply_updates(state.params, updates)
        metrics["grad_norm"] = optax.global_norm(grads)
        metrics["lr_scale"] = scale
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
        return new_state, metrics

    if shardings is None:
        return jax.jit(step, donate_argnums=0)
    replicated, batch_sharding = shardings
    return jax.jit(
        step,
        donate_argnums=0,
        in_shardings=(replicated, batch_sharding, replicated),
        out_shardings=(replicated, replicated),
    )


def make_eval_step(eval_def: nnx.GraphDef, config: TrainConfig, shardings: tuple[Any, Any] | None = None) -> Callable:
    """jit(eval)(params, rest, batch) -> per-row (nll sum, output tokens, all-argmax-correct) without dropout.

    A row whose every output token is the argmax under teacher forcing is exactly what greedy decoding would
    produce, so `correct` is the token exact match of greedy decoding, at the cost of one forward pass.
    """
    include_program = config.include_program_loss

    def evaluate(params, rest, batch):
        model = nnx.merge(eval_def, params, rest)
        inputs, targets, input_mask, loss_mask = shifted(batch, include_program)
        logits, _ = model(inputs, input_mask)
        _, nll = token_losses(logits, targets, 0.0)
        output_mask = shifted(batch, False)[3]
        hits = (jnp.argmax(logits, -1) == targets) | ~output_mask
        weights = loss_mask.astype(jnp.float32)
        return {
            "nll": (nll * weights).sum(-1),
            "tokens": weights.sum(-1),
            "correct": hits.all(-1) & (batch["lengths"] > 0),
        }

    if shardings is None:
        return jax.jit(evaluate)
    replicated, batch_sharding = shardings
    return jax.jit(evaluate, in_shardings=(replicated, replicated, batch_sharding), out_shardings=batch_sharding)
