"""Layers of a modern recurrent block beside the cell: a short causal depthwise convolution and a gated MLP.

Griffin/RecurrentGemma and the minGRU paper's language model put a temporal convolution in front of the
recurrence (each channel mixes its last `width` inputs, so the cell sees short n-grams at once) and follow the
recurrence with a gated feed-forward layer (position-wise capacity the cell lacks). Both are optional per model:
`ModelConfig.conv_width` puts the convolution inside the cell part (jaxlua.models.cell_part), and
`ModelConfig.mlp_ratio` adds a branch with the gated MLP (`GatedMLPPart`, registered as "gated_mlp").
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import ModelConfig
from jaxlua.models.parts import Context, Part, no_aux


class CausalConv(nnx.Module):
    """Depthwise causal convolution over time: `y_t = b + sum_j w_j * x_{t - width + 1 + j}` per channel.

    Initialised to the identity (last tap 1, the others 0), so a new block starts as the block without it.
    Decoding keeps the last `width - 1` inputs per row as its state.
    """

    def __init__(self, channels: int, width: int, *, dtype: Any = jnp.float32, rngs: nnx.Rngs) -> None:
        del rngs  # deterministic initialisation
        if width < 2:
            raise ValueError(f"CausalConv needs width >= 2; got {width}")
        self.width, self.channels, self.dtype = width, channels, dtype
        self.kernel = nnx.Param(jnp.zeros((width, channels), jnp.float32).at[-1].set(1.0))
        self.bias = nnx.Param(jnp.zeros((channels,), jnp.float32))

    def _taps(self, padded: jax.Array, steps: int) -> jax.Array:
        """The outputs of the last `steps` positions of `padded [B, width-1+steps, C]`."""
        kernel, bias = self.kernel.get_value().astype(padded.dtype), self.bias.get_value().astype(padded.dtype)
        y = sum(padded[:, j:j + steps] * kernel[j] for j in range(self.width))
        return y + bias

    def __call__(self, x: jax.Array) -> jax.Array:
        """`x [B,T,C]` -> `[B,T,C]`; position t reads positions t-width+1..t (zeros before the start)."""
        return self._taps(jnp.pad(x, ((0, 0), (self.width - 1, 0), (0, 0))), x.shape[1])

    def extend(self, state: jax.Array, x: jax.Array, lengths: jax.Array) -> tuple[jax.Array, jax.Array]:
        """`x [B,T,C]` after the inputs whose last width-1 are `state` -> (y [B,T,C], the state after row b's
        first `lengths[b]` inputs of x)."""
        padded = jnp.concatenate([state.astype(x.dtype), x], axis=1)
        return self._taps(padded, x.shape[1]), self.state_after(padded, lengths + self.width - 1)

    def init_state(self, batch: int, dtype: Any = jnp.float32) -> jax.Array:
        """The decoding state before any input: `width - 1` zero inputs per row."""
        return jnp.zeros((batch, self.width - 1, self.channels), dtype)

    def state_after(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """The decoding state after row b's first `lengths[b]` inputs of `x [B,T,C]`: its last width-1 inputs."""
        offsets = jnp.arange(1 - self.width, 0)[None, :] + lengths[:, None].astype(jnp.int32)
        gathered = jnp.take_along_axis(x, jnp.clip(offsets, 0, x.shape[1] - 1)[..., None], axis=1)
        return jnp.where((offsets >= 0)[..., None], gathered, 0).astype(x.dtype)

    def step(self, state: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One input `x_t [B,C]` -> (new state, `y_t [B,C]`)."""
        window = jnp.concatenate([state.astype(x_t.dtype), x_t[:, None]], axis=1)
        kernel, bias = self.kernel.get_value().astype(x_t.dtype), self.bias.get_value().astype(x_t.dtype)
        return window[:, 1:], (window * kernel[None]).sum(axis=1) + bias


class GatedMLP(nnx.Module):
    """`down(gelu(gate(x)) * up(x))` with an inner width of `ratio * dim` (GeGLU)."""

    def __init__(self, dim: int, ratio: int, *, dtype: Any = jnp.float32, rngs: nnx.Rngs) -> None:
        inner = ratio * dim
        self.gate = nnx.Linear(dim, inner, dtype=dtype, rngs=rngs)
        self.up = nnx.Linear(dim, inner, dtype=dtype, rngs=rngs)
        self.down = nnx.Linear(inner, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.down(jax.nn.gelu(self.gate(x)) * self.up(x))


class GatedMLPPart(Part):
    """The gated MLP as a block part: `config.mlp_ratio` wide inside, stateless."""

    def __init__(self, config: ModelConfig, dim: int, *, rngs: nnx.Rngs) -> None:
        self.layer = GatedMLP(dim, config.mlp_ratio, dtype=config.compute_dtype, rngs=rngs)

    def __call__(self, x: jax.Array, ctx: Context, cache: None = None) -> tuple[jax.Array, None, jax.Array]:
        del ctx, cache
        return self.layer(x), None, no_aux()
