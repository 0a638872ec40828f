"""The gate math of MinGRU and MinLSTM, written once: the cells, the scans and the fused kernel all use it.

Both cells are `h_t = (1 - z_t) h_{t-1} + z_t g(h̃_t)` with an update gate `z = σ(q)` whose logit `q` depends
on `x_t` only:

- MinGRU: `q = k`.
- MinLSTM: the normalised gates `f' = σ(k_f) / (σ(k_f) + σ(k_i))` and `i' = σ(k_i) / (σ(k_f) + σ(k_i))` are
  `f' = σ(-q)`, `i' = σ(q)` with `q = log σ(k_i) - log σ(k_f) = softplus(-k_f) - softplus(-k_i)`, which never
  divides by zero (both sigmoids may underflow).

`g(x) = x + 0.5` for x >= 0 and `σ(x)` below: positive and continuous, so `b > 0` and its log exists. The
recurrence `h_t = a_t h_{t-1} + b_t` then has three forms, one per consumer:

- linear space, `a = σ(-q)`, `b = σ(q) g(h̃)`: the sequential scan and the fused kernel (in registers);
- log space, `log a = -softplus(q)`, `log b = -softplus(-q) + log g(h̃)`: the associative and Heinsen scans;
- one decoding step, `h + σ(q) (g(h̃) - h)`: the carried h is never re-transformed.

A `Gate` bundles these for a scan over raw inputs `[B, T, D]` (the gate's pre-activations, h̃ last). The
"linear" gate takes `(log a, log b)` themselves, which is how `kernels.linear_scan` runs through the same
backends. The names of `GATES` other than "linear" are cells of `jaxlua.config.CELLS` (a test checks it).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def g(x: Array) -> Array:
    """`x + 0.5` for x >= 0, `σ(x)` otherwise: positive and continuous (each branch safe on the other's side)."""
    return jnp.where(x >= 0, jax.nn.relu(x) + 0.5, jax.nn.sigmoid(jnp.minimum(x, 0.0)))


def log_g(x: Array) -> Array:
    """`log g(x)` without overflow and with finite gradients on both branches."""
    return jnp.where(x >= 0, jnp.log(jax.nn.relu(x) + 0.5), -jax.nn.softplus(-jnp.minimum(x, 0.0)))


def mingru_logit(k: Array) -> Array:
    """MinGRU's update-gate logit: the pre-activation itself."""
    return k


def minlstm_logit(k_f: Array, k_i: Array) -> Array:
    """MinLSTM's update-gate logit `log σ(k_i) - log σ(k_f)`: `σ(q)` is the normalised input gate i'."""
    return jax.nn.softplus(-k_f) - jax.nn.softplus(-k_i)


def linear_gates(q: Array, h_tilde: Array) -> tuple[Array, Array]:
    """`(a, b) = (σ(-q), σ(q) g(h̃))`."""
    return jax.nn.sigmoid(-q), jax.nn.sigmoid(q) * g(h_tilde)


def log_gates(q: Array, h_tilde: Array) -> tuple[Array, Array]:
    """`(log a, log b) = (-softplus(q), -softplus(-q) + log g(h̃))`."""
    return -jax.nn.softplus(q), -jax.nn.softplus(-q) + log_g(h_tilde)


def step(h: Array, q: Array, h_tilde: Array) -> Array:
    """One decoding step in linear space: `h + σ(q) (g(h̃) - h)`."""
    return h + jax.nn.sigmoid(q) * (g(h_tilde) - h)


def mask_linear(a: Array, b: Array, mask: Array | None) -> tuple[Array, Array]:
    """Where `mask` [B, T] is False the step is the identity `a = 1, b = 0`: h is carried unchanged."""
    if mask is None:
        return a, b
    keep = mask[..., None]
    return jnp.where(keep, a, 1.0), jnp.where(keep, b, 0.0)


def mask_log(log_a: Array, log_b: Array, mask: Array | None) -> tuple[Array, Array]:
    """`mask_linear` in log space: `log a = 0, log b = -inf` where `mask` is False."""
    if mask is None:
        return log_a, log_b
    keep = mask[..., None]
    return jnp.where(keep, log_a, 0.0), jnp.where(keep, log_b, -jnp.inf)


@dataclasses.dataclass(frozen=True)
class Gate:
    """How one time step of raw inputs becomes the affine map `h -> a h + b`, in each form a scan needs.

    `linear(*xs) -> (a, b)`, `log(*xs) -> (log a, log b)`; `decay(*xs[:num_decay_inputs]) -> a` (the fused
    kernel's backward needs only `a`, from the inputs it depends on); `logit(*xs[:-1]) -> q` for the min cells
    (None for "linear").
    """

    name: str
    num_inputs: int
    num_decay_inputs: int
    linear: Callable[..., tuple[Array, Array]]
    log: Callable[..., tuple[Array, Array]]
    decay: Callable[..., Array]
    logit: Callable[..., Array] | None = None


def _min_gate(name: str, logit: Callable[..., Array], num_logit_inputs: int) -> Gate:
    """A min cell's Gate from its logit function (inputs: the logit's pre-activations, then h̃)."""
    return Gate(
        name=name,
        num_inputs=num_logit_inputs + 1,
        num_decay_inputs=num_logit_inputs,
        linear=lambda *xs: linear_gates(logit(*xs[:-1]), xs[-1]),
        log=lambda *xs: log_gates(logit(*xs[:-1]), xs[-1]),
        decay=lambda *xs: jax.nn.sigmoid(-logit(*xs)),
        logit=logit,
    )


GATES: dict[str, Gate] = {
    "linear": Gate("linear", 2, 1, linear=lambda log_a, log_b: (jnp.exp(log_a), jnp.exp(log_b)),
                   log=lambda log_a, log_b: (log_a, log_b), decay=jnp.exp),
    "mingru": _min_gate("mingru", mingru_logit, 1),
    "minlstm": _min_gate("minlstm", minlstm_logit, 2),
}


def get_gate(name: str) -> Gate:
    """`GATES[name]`, or a ValueError naming the known gates."""
    if name not in GATES:
        raise ValueError(f"unknown cell {name!r} for a gated scan; expected one of {sorted(GATES)}")
    return GATES[name]
