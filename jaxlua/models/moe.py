"""Mixture of experts over the feature axis (Jacobs et al. 1991; dissertation section 5.5.4).

Dense (the dissertation's): a softmax gate weights every expert and the outputs are summed. Top-k (optional):
only the k largest gate weights are kept and renormalised, and a Switch-style load-balancing loss
(`num_experts * sum_e fraction_routed_e * mean_gate_e`, 1.0 when balanced) is returned for the trainer.
Each expert is a linear map `dim -> dim`; all experts run as one matmul over the gate-weighted inputs.
`MoEPart` is the layer as a stateless block part (registered as "moe"); its aux is the load-balancing loss.
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import ModelConfig
from jaxlua.models.parts import Context, Part


class MoE(nnx.Module):
    """`y = sum_e w_e(x) (W_e x + b_e)`; returns `(y, aux_loss)`."""

    def __init__(self, dim: int, num_experts: int, top_k: int = 0, *, dtype: Any = jnp.float32,
                 rngs: nnx.Rngs) -> None:
        if num_experts < 1:
            raise ValueError(f"MoE needs num_experts >= 1; got {num_experts}")
        if not 0 <= top_k <= num_experts:
            raise ValueError(f"top_k must be in [0, {num_experts}]; got {top_k}")
        self.dim, self.num_experts, self.top_k, self.dtype = dim, num_experts, top_k, dtype
        self.gate = nnx.Linear(dim, num_experts, dtype=dtype, rngs=rngs)
        init = jax.nn.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
        self.kernel = nnx.Param(init(rngs.params(), (num_experts, dim, dim), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((num_experts, dim), jnp.float32))

    def _weights(self, x: jax.Array, mask: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        probs = jax.nn.softmax(self.gate(x).astype(jnp.float32), axis=-1)
        if not self.top_k:
            return probs, jnp.zeros((), jnp.float32)
        _, idx = jax.lax.top_k(probs, self.top_k)
        chosen = jax.nn.one_hot(idx, self.num_experts, dtype=jnp.float32).sum(axis=-2)
        weights = probs * chosen
        weights = weights / jnp.sum(weights, axis=-1, keepdims=True)
        valid = jnp.ones(x.shape[:-1], jnp.float32) if mask is None else mask.astype(jnp.float32)
        count = jnp.maximum(jnp.sum(valid), 1.0)
        fraction = jnp.einsum("...e,...->e", chosen / self.top_k, valid) / count
        mean_prob = jnp.einsum("...e,...->e", probs, valid) / count
        return weights, self.num_experts * jnp.sum(fraction * mean_prob)

    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """`x [..., dim]`, `mask` (bool, `x.shape[:-1]`) only weighs the load-balancing loss."""
        chex.assert_axis_dimension(x, -1, self.dim)
        weights, aux = self._weights(x, mask)
        n, d = self.num_experts, self.dim
        weighted = (weights.astype(x.dtype)[..., :, None] * x[..., None, :]).reshape(*x.shape[:-1], n * d)
        y = weighted @ self.kernel[...].reshape(n * d, d).astype(x.dtype)
        y = y + weights.astype(x.dtype) @ self.bias[...].astype(x.dtype)
        chex.assert_equal_shape((x, y))
        return y, aux


class MoEPart(Part):
    """`config.num_experts` experts (top `config.moe_top_k`, 0 = dense) as a block part; the padding mask weighs
    the load-balancing loss."""

    def __init__(self, config: ModelConfig, dim: int, *, rngs: nnx.Rngs) -> None:
        self.layer = MoE(dim, config.num_experts, config.moe_top_k, dtype=config.compute_dtype, rngs=rngs)

    def __call__(self, x: jax.Array, ctx: Context, cache: None = None) -> tuple[jax.Array, None, jax.Array]:
        del cache
        y, aux = self.layer(x, ctx.mask)
        return y, None, aux
