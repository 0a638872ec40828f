"""MinGRU and MinLSTM (Feng et al. 2024, "Were RNNs All We Needed?"; dissertation eqs. 2.13-2.19).

Both reduce to `h_t = (1 - z_t) h_{t-1} + z_t g(h̃_t)` with gates that depend on `x_t` only, so a whole
sequence is one linear scan (`kernels.linear_scan`):
- MinGRU: `z = σ(k)`.
- MinLSTM: normalised gates `f' = f / (f + i)`, `i' = i / (f + i)`, i.e. `z = i' = σ(d)`, `1 - z = f' = σ(-d)`
  with `d = softplus(-k_f) - softplus(-k_i)`.
In log space `log a = -softplus(q)`, `log b = -softplus(-q) + log g(h̃)` (q = k or d), `g(x) = x + 0.5` for
x >= 0 and `σ(x)` otherwise, so `b > 0`. The resolved scan method picks the path:
- "sequential" (CPU): the gates go to the scan in linear space, with no logs.
- "pallas" (GPU): the raw pre-activations go to the fused kernel (`kernels.pallas_scan.mingru_scan` /
  `minlstm_scan`), which computes the gates in registers: neither the gates nor their logs reach memory,
  and padding is its step mask.
- "associative", "heinsen": `log a`, `log b` go to `kernels.linear_scan`.
The scan runs on float32 inputs and returns float32 h whatever the compute dtype (the state is fp32).
Decoding is one step in linear space, `h + z (g(h̃) - h)`: the carried h is never re-transformed (the original
applied g to it at every step, which changed the recurrence).
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

import kernels
from jaxlua.models.cells import RecurrentCell


def g(x: jax.Array) -> jax.Array:
    """`x + 0.5` for x >= 0, `σ(x)` otherwise: positive and continuous."""
    return jnp.where(x >= 0, jax.nn.relu(x) + 0.5, jax.nn.sigmoid(jnp.minimum(x, 0.0)))


def log_g(x: jax.Array) -> jax.Array:
    """`log g(x)` without overflow and with finite gradients on both branches."""
    return jnp.where(x >= 0, jnp.log(jax.nn.relu(x) + 0.5), -jax.nn.softplus(-jnp.minimum(x, 0.0)))


class _MinCell(RecurrentCell):
    """Shared scan/step logic; subclasses give the raw pre-activations and how they become `(q, h̃)`."""

    def __init__(self, in_dim: int, hidden_dim: int, num_proj: int, *, dtype: Any, scan_method: str,
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype)
        kernels.resolve_method(scan_method)  # fail early on a bad name
        self.scan_method = scan_method
        self.num_proj = num_proj
        self.proj = nnx.Linear(in_dim, num_proj * hidden_dim, dtype=dtype, rngs=rngs)

    def _preactivations(self, x: jax.Array) -> tuple[jax.Array, ...]:
        """The projection of x split into the cell's float32 pre-activations (the last one is h̃)."""
        return tuple(jnp.split(self.proj(x).astype(jnp.float32), self.num_proj, axis=-1))

    def _gate_and_candidate(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """`(q, h̃)` with `z = σ(q)`, float32."""
        raise NotImplementedError

    def _fused_scan(self, pre: tuple[jax.Array, ...], h0: jax.Array, mask: jax.Array | None) -> jax.Array:
        """The whole recurrence in the fused Pallas kernel, from the raw pre-activations."""
        raise NotImplementedError

    def __call__(
        self, x: jax.Array, h0: jax.Array | None = None, mask: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        h0 = self._start(x, h0, mask)
        method = kernels.resolve_method(self.scan_method)
        if method == "pallas":
            h = self._fused_scan(self._preactivations(x), h0, mask)
        else:
            h = self._log_or_linear_scan(x, h0, mask, method)
        chex.assert_shape(h, (*x.shape[:2], self.hidden_dim))
        chex.assert_type(h, jnp.float32)
        return h.astype(x.dtype), h[:, -1]

    def _log_or_linear_scan(self, x: jax.Array, h0: jax.Array, mask: jax.Array | None, method: str) -> jax.Array:
        """`kernels.linear_scan_linear` on the gates ("sequential") or `kernels.linear_scan` on their logs."""
        q, cand = self._gate_and_candidate(x)
        if method == "sequential":
            a, b = jax.nn.sigmoid(-q), jax.nn.sigmoid(q) * g(cand)
            if mask is not None:
                a = jnp.where(mask[..., None], a, 1.0)
                b = jnp.where(mask[..., None], b, 0.0)
            return kernels.linear_scan_linear(a, b, h0)
        log_a, log_b = -jax.nn.softplus(q), -jax.nn.softplus(-q) + log_g(cand)
        if mask is not None:
            log_a = jnp.where(mask[..., None], log_a, 0.0)
            log_b = jnp.where(mask[..., None], log_b, -jnp.inf)
        return kernels.linear_scan(log_a, log_b, h0, method=method)

    def step(self, h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
        chex.assert_rank(x_t, 2)
        q, cand = self._gate_and_candidate(x_t)
        h = h + jax.nn.sigmoid(q) * (g(cand) - h)
        return h, h.astype(x_t.dtype)


class MinGRU(_MinCell):
    """`z = σ(W_z x)`, `h̃ = W_h x`, `h_t = (1 - z) h_{t-1} + z g(h̃)`."""

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, 2, dtype=dtype, scan_method=scan_method, rngs=rngs)

    def _gate_and_candidate(self, x):
        return self._preactivations(x)

    def _fused_scan(self, pre, h0, mask):
        from kernels.pallas_scan import mingru_scan  # pylint: disable=import-outside-toplevel (GPU-only path)
        return mingru_scan(*pre, h0, mask)


class MinLSTM(_MinCell):
    """`f, i = σ(W_f x), σ(W_i x)` normalised to sum 1, `h̃ = W_h x`, `h_t = f' h_{t-1} + i' g(h̃)`."""

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, 3, dtype=dtype, scan_method=scan_method, rngs=rngs)

    def _gate_and_candidate(self, x):
        k_f, k_i, cand = self._preactivations(x)
        return jax.nn.softplus(-k_f) - jax.nn.softplus(-k_i), cand

    def _fused_scan(self, pre, h0, mask):
        from kernels.pallas_scan import minlstm_scan  # pylint: disable=import-outside-toplevel (GPU-only path)
        return minlstm_scan(*pre, h0, mask)
