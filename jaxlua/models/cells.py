"""The sequential recurrent cells: Elman RNN (tanh), LSTM and GRU, stepped with `jax.lax.scan`.

All cells share one interface (see `RecurrentCell`): `__call__(x [B,T,D], h0=None, mask=None) -> (y [B,T,H],
h_T)`, `step(h, x_t) -> (h, y_t)`, `init_state(batch)`. The input projection of every time step is one matmul
before the scan; the scan body only adds the recurrent matmul. State is float32 whatever the compute dtype.
Where `mask` is False the state is carried unchanged (padded rows, prefill with per-row lengths).
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

State = Any  # a float32 array [B, H], or a tuple of them (LSTM: (h, c))


class RecurrentCell(nnx.Module):
    """Common checks and the masked `lax.scan` driver; subclasses define `_project`, `_recur`, `_output`."""

    num_states = 1

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32) -> None:
        self.in_dim = in_dim
        self.hidden_dim = hidden_dim
        self.dtype = dtype

    def init_state(self, batch: int) -> State:
        """Zero state for `batch` rows."""
        zeros = jnp.zeros((batch, self.hidden_dim), jnp.float32)
        return zeros if self.num_states == 1 else tuple(zeros for _ in range(self.num_states))

    def _start(self, x: jax.Array, h0: State | None, mask: jax.Array | None) -> State:
        chex.assert_rank(x, 3)
        if x.shape[-1] != self.in_dim:
            raise ValueError(f"{type(self).__name__} expects inputs [B, T, {self.in_dim}]; got {x.shape}")
        if x.shape[1] < 1:
            raise ValueError("sequences must have at least one time step")
        if mask is not None:
            chex.assert_shape(mask, x.shape[:2])
        if h0 is None:
            return self.init_state(x.shape[0])
        h0 = jax.tree.map(lambda h: h.astype(jnp.float32), h0)
        chex.assert_tree_shape_prefix(h0, (x.shape[0], self.hidden_dim))
        return h0

    # Subclass hooks -------------------------------------------------------------------------------------
    def _project(self, x: jax.Array) -> jax.Array:
        """Input contribution of every step, float32 [..., G*H]."""
        raise NotImplementedError

    def _recur(self, h: State, u_t: jax.Array) -> State:
        raise NotImplementedError

    def _output(self, h: State) -> jax.Array:
        return h

    # Interface -----------------------------------------------------------------------------------------
    def __call__(
        self, x: jax.Array, h0: State | None = None, mask: jax.Array | None = None
    ) -> tuple[jax.Array, State]:
        h = self._start(x, h0, mask)
        u = jnp.swapaxes(self._project(x), 0, 1)  # time-major for lax.scan

        if mask is None:
            def body(h, u_t):
                h = self._recur(h, u_t)
                return h, self._output(h)

            h_last, ys = jax.lax.scan(body, h, u)
        else:
            def body(h, inputs):
                u_t, m_t = inputs
                new = self._recur(h, u_t)
                h = jax.tree.map(lambda n, o: jnp.where(m_t[:, None], n, o), new, h)
                return h, self._output(h)

            h_last, ys = jax.lax.scan(body, h, (u, jnp.swapaxes(mask, 0, 1)))
        y = jnp.swapaxes(ys, 0, 1).astype(x.dtype)
        chex.assert_shape(y, (*x.shape[:2], self.hidden_dim))
        return y, h_last

    def step(self, h: State, x_t: jax.Array) -> tuple[State, jax.Array]:
        """One time step: `x_t [B, D]` -> (new state, `y_t [B, H]`)."""
        chex.assert_rank(x_t, 2)
        h = self._recur(h, self._project(x_t))
        return h, self._output(h).astype(x_t.dtype)


def _recurrent_weight(hidden_dim: int, gates: int, rngs: nnx.Rngs) -> nnx.Param:
    """[H, gates*H], each gate's block orthogonal (keeps early gradients from exploding or vanishing)."""
    keys = jax.random.split(rngs.params(), gates)
    init = jax.nn.initializers.orthogonal()
    return nnx.Param(jnp.concatenate([init(k, (hidden_dim, hidden_dim), jnp.float32) for k in keys], axis=1))


class RNN(RecurrentCell):
    """Elman RNN: `h_t = tanh(W x_t + U h_{t-1} + b)`, `y_t = h_t`."""

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype)
        self.input = nnx.Linear(in_dim, hidden_dim, dtype=dtype, rngs=rngs)
        self.recurrent = _recurrent_weight(hidden_dim, 1, rngs)

    def _project(self, x):
        return self.input(x).astype(jnp.float32)

    def _recur(self, h, u_t):
        return jnp.tanh(u_t + h @ self.recurrent[...])


class GRU(RecurrentCell):
    """GRU (Cho et al. 2014, cuDNN form): `r, z = σ(.)`, `n = tanh(W_n x + r ⊙ (U_n h + b_n))`,
    `h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n` (the dissertation's eq. 2.11)."""

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype)
        self.input = nnx.Linear(in_dim, 3 * hidden_dim, dtype=dtype, rngs=rngs)
        self.recurrent = _recurrent_weight(hidden_dim, 3, rngs)
        self.recurrent_bias = nnx.Param(jnp.zeros((3 * hidden_dim,), jnp.float32))

    def _project(self, x):
        return self.input(x).astype(jnp.float32)

    def _recur(self, h, u_t):
        u_r, u_z, u_n = jnp.split(u_t, 3, axis=-1)
        w_r, w_z, w_n = jnp.split(h @ self.recurrent[...] + self.recurrent_bias[...], 3, axis=-1)
        r = jax.nn.sigmoid(u_r + w_r)
        z = jax.nn.sigmoid(u_z + w_z)
        n = jnp.tanh(u_n + r * w_n)
        return z * h + (1.0 - z) * n


def _forget_bias_init(hidden_dim: int):
    """LSTM input bias: zeros except +1 on the forget gate (Jozefowicz et al. 2015)."""

    def init(key, shape, dtype=jnp.float32):
        del key
        return jnp.zeros(shape, dtype).at[hidden_dim:2 * hidden_dim].set(1.0)

    return init


class LSTM(RecurrentCell):
    """LSTM (Hochreiter & Schmidhuber 1997): gates i, f, o; `c_t = f c + i tanh(.)`, `h_t = o tanh(c_t)`.

    State is the tuple `(h, c)`; `y_t = h_t`.
    """

    num_states = 2

    def __init__(self, in_dim: int, hidden_dim: int, *, dtype: Any = jnp.float32, scan_method: str = "auto",
                 rngs: nnx.Rngs) -> None:
        super().__init__(in_dim, hidden_dim, dtype=dtype)
        self.input = nnx.Linear(in_dim, 4 * hidden_dim, dtype=dtype, bias_init=_forget_bias_init(hidden_dim),
                                rngs=rngs)
        self.recurrent = _recurrent_weight(hidden_dim, 4, rngs)

    def _project(self, x):
        return self.input(x).astype(jnp.float32)

    def _recur(self, state, u_t):
        h, c = state
        i, f, g, o = jnp.split(u_t + h @ self.recurrent[...], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, c

    def _output(self, state):
        return state[0]
