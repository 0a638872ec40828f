"""Program recall: cross-attention from the output positions to the program's positions (`ModelConfig.recall`).

A recurrent state must squeeze the whole program into a fixed vector before the output starts, so it is poor
at looking things up (which value did `q` get?) and at copying (the characters of a string literal). Program
recall lets every output position (the first SEP and everything after it) attend over the program positions
(before the first SEP, padding excluded): `softmax(Q K^T / sqrt(d_k)) V` with queries from the outputs and keys
and values from the program. Program positions get no update, so the program is read exactly as without it.

Cost. The scores are `[queries, keys]`; with every position a query that is `T x T`, as dear as full
self-attention. The outputs are a short suffix, so each call measures the longest output of the batch (a traced
value) and `lax.switch`es to the smallest static query window that holds it: each row's queries are gathered from
its first SEP on, `W` of them, and the updates scattered back, for `W x T` scores. A window of `T` is the plain
masked `[T, T]` form.

`RecallPart` (registered as "recall") is the layer in a block. Its cache is the `RecallMemory` (keys, values and
program mask) of the first call on a fresh cache, the prompt: prefill computes it once, and a call continuing the
cache computes only its own queries, O(T) per token. Such a call's positions are all outputs (`Context`): the
prompt must hold the whole program up to its SEP (as `BOS program SEP` does), as for the program encoder.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import ModelConfig
from jaxlua.models.parts import Context, Part, no_aux

HEAD_DIM = 32  # recall width / HEAD_DIM heads: few wide heads, since small batched products are slow on a CPU
_MASKED = -1e30
_FIRST_WINDOW = 16  # the smallest query window; each next one is 4 times wider, while narrower than T
# Up to this width every position is a query (the plain masked [T, T] form): the window's switch, gathers and
# scatters cost more than the scores they save on short sequences.
PLAIN_UP_TO = 128


class RecallMemory(NamedTuple):
    keys: jax.Array  # [B,T,heads,head_dim]: of every position of the prompt
    values: jax.Array  # [B,T,heads,head_dim]
    program: jax.Array  # bool[B,T]: the keys that are program positions


def query_windows(width: int) -> tuple[int, ...]:
    """The static query windows for sequences of `width` positions: 16, 64, 256, ... below `width`, then `width`."""
    windows, w = [], _FIRST_WINDOW
    while w < width:
        windows.append(w)
        w *= 4
    return (*windows, width)


class ProgramRecall(nnx.Module):
    """Cross-attention of the output positions over the program positions, `width` wide, then a projection.

    Queries, keys and values are `width` wide (`width / HEAD_DIM` heads), narrower than the stream `dim`: the
    lookups need few dimensions, and the key and value projections run on every position.
    """

    def __init__(self, dim: int, width: int, *, dtype: Any = jnp.float32, rngs: nnx.Rngs) -> None:
        if width < HEAD_DIM or width % HEAD_DIM:
            raise ValueError(f"the recall width must be a positive multiple of {HEAD_DIM}; got {width}")
        self.dim, self.width, self.num_heads, self.head_dim = dim, width, width // HEAD_DIM, HEAD_DIM
        self.query = nnx.Linear(dim, width, dtype=dtype, rngs=rngs)
        # No bias: a key bias moves every score of a query alike, so softmax makes its gradient zero (and Adam would
        # turn its rounding noise into steps); a value bias would only repeat the output projection's.
        self.key_value = nnx.Linear(dim, 2 * width, use_bias=False, dtype=dtype, rngs=rngs)
        self.out = nnx.Linear(width, dim, dtype=dtype, rngs=rngs)

    def _split_heads(self, x: jax.Array) -> jax.Array:
        return x.reshape(*x.shape[:-1], self.num_heads, self.head_dim)

    def memory(self, x: jax.Array, program: jax.Array) -> RecallMemory:
        """`x [B,T,dim]` (normed), `program bool[B,T]` -> the keys and values of every position, and `program`."""
        k, v = jnp.split(self.key_value(x), 2, axis=-1)
        return RecallMemory(self._split_heads(k), self._split_heads(v), program)

    def read(self, x_q: jax.Array, memory: RecallMemory, active: jax.Array) -> jax.Array:
        """Queries from `x_q [B,Q,dim]` over `memory` -> [B,Q,dim], zero where `active bool[B,Q]` is False.

        A row without program positions gets zero too (its softmax would otherwise spread over padding).
        """
        k, v, program = memory
        q = self._split_heads(self.query(x_q))
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k.astype(q.dtype)).astype(jnp.float32) / jnp.sqrt(self.head_dim)
        visible = program[:, None, None, :]
        probs = jnp.where(visible, jax.nn.softmax(jnp.where(visible, scores, _MASKED), axis=-1), 0.0)
        y = jnp.einsum("bhqk,bkhd->bqhd", probs.astype(v.dtype), v.astype(q.dtype))
        y = self.out(y.reshape(*y.shape[:2], self.width))
        return jnp.where(active[..., None], y, 0).astype(x_q.dtype)

    def _windowed(self, window: int, x: jax.Array, memory: RecallMemory, outputs: jax.Array) -> jax.Array:
        """The update [B,T,dim] computed on `window` queries per row, from the row's first output position."""
        width = x.shape[1]
        if window >= width:
            return self.read(x, memory, outputs)
        start = jnp.sum(memory.program, axis=1, dtype=jnp.int32)  # the program is a prefix: its length is the first SEP
        index = start[:, None] + jnp.arange(window, dtype=jnp.int32)[None, :]
        in_range = index < width
        index = jnp.minimum(index, width - 1)
        active = in_range & jnp.take_along_axis(outputs, index, axis=1)
        y = self.read(jnp.take_along_axis(x, index[..., None], axis=1), memory, active)
        rows = jnp.arange(x.shape[0])[:, None]
        return jnp.zeros_like(x).at[rows, index].add(y)  # clamped duplicates add zeros

    def __call__(self, x: jax.Array, program: jax.Array, outputs: jax.Array) -> tuple[jax.Array, RecallMemory]:
        """`x [B,T,dim]` (normed), `program`/`outputs bool[B,T]` -> (update [B,T,dim], zero off `outputs`; memory).

        `program` marks the keys (positions before the first SEP, inside the mask), `outputs` the queries (from
        the first SEP on, inside the mask).
        """
        chex.assert_rank(x, 3)
        chex.assert_axis_dimension(x, -1, self.dim)
        chex.assert_shape([program, outputs], x.shape[:2])
        memory = self.memory(x, program)
        windows = query_windows(x.shape[1]) if x.shape[1] > PLAIN_UP_TO else (x.shape[1],)
        if len(windows) == 1:
            return self._windowed(windows[0], x, memory, outputs), memory
        span = jnp.max(jnp.sum(outputs, axis=1, dtype=jnp.int32))
        choice = jnp.searchsorted(jnp.asarray(windows[:-1], jnp.int32), span, side="left")
        # Each branch is rematerialised: a switch's backward keeps every branch's residuals (zeros for the
        # branches not taken), which for the [T, T] branch alone would cost more than recomputing the taken one.
        branches = [jax.checkpoint(lambda x, m, o, w=w: self._windowed(w, x, m, o)) for w in windows]
        return jax.lax.switch(choice, branches, x, memory, outputs), memory


class RecallPart(Part):
    """Program recall `config.recall_dim` wide as a block part; its cache is the prompt's memory."""

    def __init__(self, config: ModelConfig, dim: int, *, rngs: nnx.Rngs) -> None:
        self.layer = ProgramRecall(dim, config.recall_dim, dtype=config.compute_dtype, rngs=rngs)

    def init_cache(self, batch: int, max_len: int, dtype: Any) -> RecallMemory:
        """An empty memory (no positions): the first call stores the prompt's."""
        del max_len
        empty = jnp.zeros((batch, 0, self.layer.num_heads, self.layer.head_dim), dtype)
        return RecallMemory(empty, empty, jnp.zeros((batch, 0), bool))

    def __call__(self, x: jax.Array, ctx: Context,
                 cache: RecallMemory | None = None) -> tuple[jax.Array, RecallMemory | None, jax.Array]:
        if ctx.continues:
            return self.layer.read(x, cache, ctx.outputs), cache, no_aux()
        y, memory = self.layer(x, ctx.program, ctx.outputs)
        return y, None if cache is None else memory, no_aux()
