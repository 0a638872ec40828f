"""Dropout whose mask comes from a keyed counter hash instead of one threefry draw per element.

`nnx.Dropout` draws `jax.random.bernoulli(key, shape)`: a threefry-2x32 evaluation per element, which XLA
compiles to slow scalar-heavy code on CPU (at the dissertation's size it cost more than the whole MinGRU scan;
results/README.md, "Speed", has the figures). Here the key gives two 32-bit words (one tiny threefry call) and
every element's bits are a keyed mix of its flat index:

    x = fmix32(fmix32(index ^ k0) + k1),   keep where x < keep_prob * 2**32

`fmix32` is MurmurHash3's finalizer, a bijection of uint32 with full avalanche, so each round is a keyed
permutation of the indices: distinct elements never share bits within one mask, and masks of different keys
are unrelated (the second key word breaks the shift symmetry of the first). Five integer ops per round that
XLA fuses and vectorises (`experiments/bench_train_step.py` records the step time).
Statistical quality is what dropout needs, not what cryptography needs; `tests/models/test_dropout.py` checks
the keep rate, pairwise independence along every axis and across keys, and golden values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

_M1 = np.uint32(0x85EBCA6B)
_M2 = np.uint32(0xC2B2AE35)


def fmix32(x: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finalizer: a bijection of uint32 where every input bit flips ~half the output bits."""
    x = x ^ (x >> 16)
    x = x * _M1
    x = x ^ (x >> 13)
    x = x * _M2
    return x ^ (x >> 16)


def hash_bits(key: jax.Array, shape: Sequence[int]) -> jax.Array:
    """uint32 bits of `shape`, a keyed hash of each element's row-major index (same key, same bits)."""
    size = math.prod(shape)
    if size > 2**32:
        raise ValueError(f"hash_bits indexes elements with uint32; shape {tuple(shape)} has {size} > 2**32 elements")
    k0, k1 = jax.random.bits(key, (2,), jnp.uint32)
    index = jax.lax.iota(jnp.uint32, size).reshape(shape) if size else jnp.zeros(shape, jnp.uint32)
    return fmix32(fmix32(index ^ k0) + k1)


def keep_mask(key: jax.Array, keep_prob: float, shape: Sequence[int]) -> jax.Array:
    """bool mask of `shape`, each element True with probability `keep_prob` (to within 2**-32)."""
    if not 0.0 <= keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in [0, 1]; got {keep_prob}")
    if keep_prob == 1.0:
        return jnp.ones(shape, bool)
    threshold = np.uint32(min(round(keep_prob * 2.0**32), 2**32 - 1))
    return hash_bits(key, shape) < threshold


class Dropout(nnx.Dropout):
    """`nnx.Dropout` (same arguments, train/eval switching and RNG stream) with the hashed mask above."""

    def __call__(self, inputs, *, deterministic: bool | None = None, rngs=None) -> jax.Array:
        deterministic = self.deterministic if deterministic is None else deterministic
        if deterministic or self.rate == 0.0:
            return inputs
        if self.rate == 1.0:
            return jnp.zeros_like(inputs)
        stream = self.rngs if rngs is None else rngs
        if stream is None:
            raise ValueError("Dropout is in training mode but has no RNG stream: build it with rngs=nnx.Rngs(...)")
        if isinstance(stream, nnx.Rngs):
            key = stream[self.rng_collection]()
        elif isinstance(stream, nnx.RngStream):
            key = stream()
        else:
            key = stream
        keep_prob = 1.0 - self.rate
        shape = list(inputs.shape)
        for dim in self.broadcast_dims:
            shape[dim] = 1
        mask = jnp.broadcast_to(keep_mask(key, keep_prob, shape), inputs.shape)
        return jax.lax.select(mask, inputs / jnp.asarray(keep_prob, inputs.dtype), jnp.zeros_like(inputs))
