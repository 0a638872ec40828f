"""Causal multi-head scaled dot-product self-attention with a padding mask and a KV cache for decoding."""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

KVCache = tuple[jax.Array, jax.Array]  # keys, values: [B, max_len, heads, head_dim]
_MASKED = -1e30  # finite, so a row with no visible key gives a uniform softmax, not NaN


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
        return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)

    def decode(self, x_t: jax.Array, cache: KVCache, pos: jax.Array) -> tuple[jax.Array, KVCache]:
        """One token per row: `x_t [B,dim]` at positions `pos int32[B]`; keys at positions <= pos are visible."""
        chex.assert_rank(x_t, 2)
        q, k, v = self._heads(x_t[:, None])
        rows = jnp.arange(x_t.shape[0])
        k_cache = cache[0].at[rows, pos].set(k[:, 0].astype(cache[0].dtype))
        v_cache = cache[1].at[rows, pos].set(v[:, 0].astype(cache[1].dtype))
        visible = (jnp.arange(k_cache.shape[1])[None, :] <= pos[:, None])[:, None, :]
        y = self._attend(q, k_cache.astype(q.dtype), v_cache.astype(q.dtype), visible)
        return y[:, 0], (k_cache, v_cache)


def fill_cache(kv: KVCache, max_len: int) -> KVCache:
    """Pad prefill keys/values [B,T,h,d] to the cache length `max_len`."""
    t = kv[0].shape[1]
    if t > max_len:
        raise ValueError(f"sequence length {t} exceeds the KV cache length max_len={max_len}")
    pad = ((0, 0), (0, max_len - t), (0, 0), (0, 0))
    return jnp.pad(kv[0], pad), jnp.pad(kv[1], pad)
