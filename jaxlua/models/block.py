"""Block: a sequence of pre-norm residual branches `x += drop(part(LN(x)))`, one per entry of a pattern.

The pattern (a tuple of `Branch`) names each branch's registered part (jaxlua.models.parts.PARTS) and the
attributes its part and LayerNorm are stored under; the model chooses it (`LanguageModel.layout_for`). A block is
one call for training, prefill and decoding: `block(x, ctx, cache) -> (x, cache, aux)`, where the block's cache
is the tuple of its parts' caches (in branch order) and `aux` the sum of their aux losses.

The first branch reads the block's input; when that input is narrower or wider than `hidden_dim` (the first
block's embedding, `embed_dim != hidden_dim`) the branch has no residual and its part maps the embedding to the
hidden width, as in the dissertation, where the cell maps embeddings to hidden states.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import ModelConfig
from jaxlua.models.dropout import Dropout
from jaxlua.models.parts import PARTS, Branch, Context

BlockCache = tuple[Any, ...]  # one cache per branch, in branch order


class Block(nnx.Module):
    """The branches of `pattern` over a stream `in_dim` wide at the input and `hidden_dim` wide after."""

    def __init__(self, config: ModelConfig, in_dim: int, pattern: Sequence[Branch], *, rngs: nnx.Rngs) -> None:
        if not pattern:
            raise ValueError("a block needs at least one branch")
        hidden, dtype = config.hidden_dim, config.compute_dtype
        self.branches = tuple(pattern)
        self.residual = in_dim == hidden  # of the first branch; the others are hidden -> hidden
        for index, branch in enumerate(self.branches):
            dim = in_dim if index == 0 else hidden
            setattr(self, branch.norm, nnx.LayerNorm(dim, dtype=dtype, rngs=rngs))
            setattr(self, branch.name, PARTS.get(branch.kind)(config, dim, rngs=rngs))
        self.dropout = Dropout(config.dropout, rngs=rngs)

    def init_cache(self, batch: int, max_len: int, dtype: Any) -> BlockCache:
        """Every part's cache before any token."""
        return tuple(getattr(self, b.name).init_cache(batch, max_len, dtype) for b in self.branches)

    def __call__(self, x: jax.Array, ctx: Context,
                 cache: BlockCache | None = None) -> tuple[jax.Array, BlockCache | None, jax.Array]:
        """`x [B,T,in]` -> (x [B,T,H], the cache after these tokens or None without one, aux loss f32[])."""
        aux = jnp.zeros((), jnp.float32)
        new_cache = []
        for index, branch in enumerate(self.branches):
            part = getattr(self, branch.name)
            y, part_cache, part_aux = part(getattr(self, branch.norm)(x), ctx,
                                           None if cache is None else cache[index])
            y = self.dropout(y)
            x = x + y if index or self.residual else y
            aux = aux + part_aux
            new_cache.append(part_cache)
        return x, None if cache is None else tuple(new_cache), aux
