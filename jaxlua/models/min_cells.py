"""MinGRU and MinLSTM (Feng et al. 2024, "Were RNNs All We Needed?"; dissertation eqs. 2.13-2.19).

Both reduce to `h_t = (1 - z_t) h_{t-1} + z_t g(h̃_t)` with gates that depend on `x_t` only, so a whole
sequence is one linear scan. The cells only project `x` to their pre-activations; the gate math (`z`, `g`, the
linear and log forms, the decoding step) lives in `kernels.gates`, and `kernels.gated_scan` resolves the scan
method and runs it (the fused Pallas kernel takes the raw pre-activations and the padding mask directly). The
scan runs on float32 inputs and returns float32 h whatever the compute dtype (the state is fp32). Decoding is
one step in linear space, `h + z (g(h̃) - h)`: the carried h is never re-transformed (the original applied g
to it at every step, which changed the recurrence).
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

import kernels
from jaxlua.models.cells import RecurrentCell


class _MinCell(RecurrentCell):
    """Shared scan/step logic; a subclass names its gate in `kernels.gates.GATES` (its pre-activations, h̃ last)."""

    gate: str = ""

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any, scan_method: str, rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype)
        kernels.resolve_method(scan_method)  # fail early on a bad name
        self.scan_method = scan_method
        self.num_proj = kernels.gates.get_gate(self.gate).num_inputs
        self.proj = nnx.Linear(in_dim, self.num_proj * hidden_dim, dtype=dtype, rngs=rngs)

    def _preactivations(self, x: jax.Array) -> tuple[jax.Array, ...]:
        """The projection of x split into the gate's float32 pre-activations (the last one is h̃)."""
        return tuple(jnp.split(self.proj(x).astype(jnp.float32), self.num_proj, axis=-1))

    def __call__(
        self, x: jax.Array, h0: jax.Array | None = None, mask: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        h0 = self._start(x, h0, mask)
        h = kernels.gated_scan(self.gate, self._preactivations(x), h0, mask, method=self.scan_method)
        chex.assert_shape(h, (*x.shape[:2], self.hidden_dim))
        chex.assert_type(h, jnp.float32)
        return h.astype(x.dtype), h[:, -1]

    def step(self, h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
        chex.assert_rank(x_t, 2)
        *gate_inputs, cand = self._preactivations(x_t)
        h = kernels.gates.step(h, kernels.gates.get_gate(self.gate).logit(*gate_inputs), cand)
        return h, h.astype(x_t.dtype)


class MinGRU(_MinCell):
    """`z = σ(W_z x)`, `h̃ = W_h x`, `h_t = (1 - z) h_{t-1} + z g(h̃)`."""

    gate = "mingru"

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype, scan_method=scan_method, rngs=rngs)


class MinLSTM(_MinCell):
    """`f, i = σ(W_f x), σ(W_i x)` normalised to sum 1, `h̃ = W_h x`, `h_t = f' h_{t-1} + i' g(h̃)`."""

    gate = "minlstm"

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype, scan_method=scan_method, rngs=rngs)
