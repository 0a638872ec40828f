"""The recurrent part of a block: `cell(conv(x) + backward(x))`, the causal convolution and backward cell optional.

The cell is the registered recurrent cell `config.cell` (jaxlua.config.CELLS), `dim -> hidden_dim`. With
`conv_width` a short causal depthwise convolution (jaxlua.models.block_parts.CausalConv) mixes each channel's
last inputs before the cell, as in Griffin's recurrent block.

With `program_encoder` a backward cell of the same kind (width `dim`) reads the program (the positions before
the first SEP) right to left; its output, zero outside the program, is added to the forward cell's input, so the
forward state at SEP has read the program both ways. (Added to the block's output instead, the last block's
backward cell would reach only the program positions' logits, which the output loss never reads: no gradient,
and a one-block model would gain nothing.) Output tokens never reach the backward cell, so the prefill call on
the prompt (BOS program SEP) runs it and a call continuing the cache (`ctx.continues`) has nothing for it.

The cache (`CellCache`) is the cell state after each row's last real token and the convolution's last inputs.
A call continuing the cache with one token per row takes the cell's `step`; any other call runs the cell over
the sequence from the cached state.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import CELLS, ModelConfig
from jaxlua.models.block_parts import CausalConv
from jaxlua.models.parts import Context, Part, no_aux


class CellCache(NamedTuple):
    state: Any  # the cell's state (float32 [B,H], or a tuple of them) after each row's last real token
    window: jax.Array | None  # the convolution's last width-1 inputs [B, width-1, dim]; None without it


class CellPart(Part):
    """Optional causal convolution, optional backward program cell, then the recurrent cell."""

    def __init__(self, config: ModelConfig, dim: int, *, rngs: nnx.Rngs) -> None:
        dtype, cell_class = config.compute_dtype, CELLS.get(config.cell)
        self.conv = CausalConv(dim, config.conv_width, dtype=dtype, rngs=rngs) if config.conv_width else None
        self.cell = cell_class(dim, config.hidden_dim, dtype=dtype, scan_method=config.scan_method, rngs=rngs)
        self.backward_cell = (cell_class(dim, dim, dtype=dtype, scan_method=config.scan_method, rngs=rngs)
                              if config.program_encoder else None)

    def init_cache(self, batch: int, max_len: int, dtype: Any) -> CellCache:
        del max_len
        window = None if self.conv is None else self.conv.init_state(batch, dtype)
        return CellCache(self.cell.init_state(batch), window)

    def _read_backward(self, u: jax.Array, program: jax.Array) -> jax.Array:
        """The backward cell over the program positions, right to left: `u [B,T,in]` -> [B,T,in], zero outside.

        Inputs outside the program are zeroed and the time axis flipped; the cell carries its state unchanged
        where the flipped program mask is False, so it starts from zero at each row's last program token.
        """
        inside = program[:, :, None]
        y, _ = self.backward_cell(jnp.flip(jnp.where(inside, u, 0), axis=1), mask=jnp.flip(program, axis=1))
        return jnp.where(inside, jnp.flip(y, axis=1), 0)

    def __call__(self, x: jax.Array, ctx: Context,
                 cache: CellCache | None = None) -> tuple[jax.Array, CellCache | None, jax.Array]:
        one_step = cache is not None and ctx.continues and x.shape[1] == 1 and ctx.mask is None
        u, window = x, None
        if self.conv is not None:
            if cache is None:
                u = self.conv(x)
            elif one_step:
                window, u_t = self.conv.step(cache.window, x[:, 0])
                u = u_t[:, None]
            else:
                u, window = self.conv.extend(cache.window, x, ctx.lengths)
        if self.backward_cell is not None and not ctx.continues:
            u = u + self._read_backward(u, ctx.program)
        if cache is None:
            y, _ = self.cell(u, mask=ctx.mask)
            return y, None, no_aux()
        if one_step:
            state, y_t = self.cell.step(cache.state, u[:, 0])
            return y_t[:, None], CellCache(state, window), no_aux()
        y, state = self.cell(u, cache.state, mask=ctx.mask)
        return y, CellCache(state, window), no_aux()
