"""Causal multi-head scaled dot-product self-attention with a padding mask and a KV cache, and its block part.

`SelfAttention` is the layer: a sequence call (causal + padding mask) and `extend`, which writes new tokens'
keys and values into a `KVCache` of `max_len` positions and attends over every cached position up to each
query's own. `AttentionPart` (registered as "attention") is the layer in a block: the first call on a fresh
cache (prefill) attends over its own tokens only, as the sequence call does, and stores their keys and values
from position 0; a call continuing the cache goes through `extend`.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import ModelConfig
from jaxlua.models.parts import Context, Part, no_aux

_MASKED = -1e30  # finite, so a row with no visible key gives a uniform softmax, not NaN


class KVCache(NamedTuple):
    keys: jax.Array  # [B, max_len, heads, head_dim]; position p of row b at [b, p]
    values: jax.Array  # [B, max_len, heads, head_dim]


class SelfAttention(nnx.Module):
    """`softmax(Q K^T / sqrt(d_k) + causal + padding) V`, then an output projection."""

    def __init__(self, dim: int, num_heads: int, *, dtype: Any = jnp.float32, rngs: nnx.Rngs) -> None:
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.qkv = nnx.Linear(dim, 3 * dim, dtype=dtype, rngs=rngs)
        self.out = nnx.Linear(dim, dim, dtype=dtype, rngs=rngs)

    def _heads(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
        shape = (*x.shape[:-1], self.num_heads, self.head_dim)
        return q.reshape(shape), k.reshape(shape), v.reshape(shape)

    def _attend(self, q: jax.Array, k: jax.Array, v: jax.Array, visible: jax.Array) -> jax.Array:
        """q [B,Tq,h,d], k/v [B,Tk,h,d], visible bool [B,Tq,Tk] -> [B,Tq,dim]."""
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) / jnp.sqrt(self.head_dim)
        scores = jnp.where(visible[:, None], scores, _MASKED)
        probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
        y = jnp.einsum("bhqk,bkhd->bqhd", probs, v)
        return self.out(y.reshape(*y.shape[:2], self.dim))

    def __call__(self, x: jax.Array, mask: jax.Array | None = None, return_kv: bool = False):
        """`x [B,T,dim]`, `mask` bool [B,T] (False = padding key). Returns y, or (y, (k, v)) with return_kv."""
        chex.assert_rank(x, 3)
        chex.assert_axis_dimension(x, -1, self.dim)
        t = x.shape[1]
        q, k, v = self._heads(x)
        visible = jnp.tril(jnp.ones((t, t), bool))[None]
        if mask is not None:
            chex.assert_shape(mask, x.shape[:2])
            visible = visible & mask[:, None, :]
        y = self._attend(q, k, v, visible)
        return (y, (k, v)) if return_kv else y

    def init_cache(self, batch: int, max_len: int, dtype: Any = jnp.float32) -> KVCache:
        shape = (batch, max_len, self.num_heads, self.head_dim)
        return KVCache(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype))

    def extend(self, x: jax.Array, cache: KVCache, positions: jax.Array) -> tuple[jax.Array, KVCache]:
        """`x [B,T,dim]` at `positions int32[B,T]` -> (y [B,T,dim], cache with their keys and values).

        A query sees the cached keys at positions up to its own: the earlier tokens of its row and itself.
        """
        chex.assert_rank(x, 3)
        q, k, v = self._heads(x)
        rows = jnp.arange(x.shape[0])[:, None]
        keys = cache.keys.at[rows, positions].set(k.astype(cache.keys.dtype))
        values = cache.values.at[rows, positions].set(v.astype(cache.values.dtype))
        visible = jnp.arange(keys.shape[1])[None, None, :] <= positions[:, :, None]
        y = self._attend(q, keys.astype(q.dtype), values.astype(q.dtype), visible)
        return y, KVCache(keys, values)

    def decode(self, x_t: jax.Array, cache: KVCache, pos: jax.Array) -> tuple[jax.Array, KVCache]:
        """One token per row: `x_t [B,dim]` at positions `pos int32[B]` (`extend` with T = 1)."""
        chex.assert_rank(x_t, 2)
        y, cache = self.extend(x_t[:, None], cache, pos[:, None])
        return y[:, 0], cache


class AttentionPart(Part):
    """`config.num_heads`-head self-attention as a block part, with a KV cache of `max_len` positions."""

    def __init__(self, config: ModelConfig, dim: int, *, rngs: nnx.Rngs) -> None:
        self.layer = SelfAttention(dim, config.num_heads, dtype=config.compute_dtype, rngs=rngs)

    def init_cache(self, batch: int, max_len: int, dtype: Any) -> KVCache:
        return self.layer.init_cache(batch, max_len, dtype)

    def __call__(self, x: jax.Array, ctx: Context,
                 cache: KVCache | None = None) -> tuple[jax.Array, KVCache | None, jax.Array]:
        if cache is None:
            return self.layer(x, ctx.mask), None, no_aux()
        if ctx.continues:
            y, cache = self.layer.extend(x, cache, ctx.positions)
            return y, cache, no_aux()
        t, max_len = x.shape[1], cache.keys.shape[1]
        if t > max_len:
            raise ValueError(f"sequence length {t} exceeds the KV cache length max_len={max_len}")
        y, (k, v) = self.layer(x, ctx.mask, return_kv=True)
        cache = KVCache(cache.keys.at[:, :t].set(k.astype(cache.keys.dtype)),
                        cache.values.at[:, :t].set(v.astype(cache.values.dtype)))
        return y, cache, no_aux()
