"""Decoder-only Transformer baseline (nanoGPT-style, learned positions; the TEX model family).

Same interface as LanguageModel: `__call__(tokens, mask) -> (logits, aux)`, `prefill(tokens, lengths)` ->
(cache, logits of each row's last token), `decode_step(state, token)` with a KV cache of `max_len` positions.
Width is `config.hidden_dim`; the token embedding is tied to the output head. With `num_experts > 0` the MLP
is replaced by the MoE layer.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.models.attention import SelfAttention, fill_cache
from jaxlua.config import ModelConfig
from jaxlua.models.dropout import Dropout
from jaxlua.models.language_model import DecodeState, check_tokens, last_positions
from jaxlua.models.moe import MoE


class MLP(nnx.Module):
    """`dim -> 4 dim -> GELU -> dim`."""

    def __init__(self, dim: int, *, dtype, rngs: nnx.Rngs) -> None:
        self.up = nnx.Linear(dim, 4 * dim, dtype=dtype, rngs=rngs)
        self.down = nnx.Linear(4 * dim, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        return self.down(jax.nn.gelu(self.up(x))), jnp.zeros((), jnp.float32)


class TransformerBlock(nnx.Module):
    """`x += drop(attn(LN(x)))`, `x += drop(mlp(LN(x)))`."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        dim, dtype = config.hidden_dim, config.compute_dtype
        self.ln_attn = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)
        self.attn = SelfAttention(dim, config.num_heads, dtype=dtype, rngs=rngs)
        self.ln_mlp = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)
        self.mlp = (MoE(dim, config.num_experts, config.moe_top_k, dtype=dtype, rngs=rngs)
                    if config.num_experts else MLP(dim, dtype=dtype, rngs=rngs))
        self.dropout = Dropout(config.dropout, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array | None):
        y, kv = self.attn(self.ln_attn(x), mask, return_kv=True)
        x = x + self.dropout(y)
        y, aux = self.mlp(self.ln_mlp(x), mask)
        return x + self.dropout(y), aux, kv

    def decode(self, x: jax.Array, layer: dict, pos: jax.Array) -> tuple[jax.Array, dict]:
        y, kv = self.attn.decode(self.ln_attn(x), layer["kv"], pos)
        x = x + self.dropout(y)
        return x + self.dropout(self.mlp(self.ln_mlp(x))[0]), {"kv": kv}


class Transformer(nnx.Module):
    """Token + learned position embeddings -> N TransformerBlocks -> LayerNorm -> tied head."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        self.config = config
        dim, dtype = config.hidden_dim, config.compute_dtype
        self.wte = nnx.Embed(config.vocab_size, dim, dtype=dtype, rngs=rngs)
        self.wpe = nnx.Embed(config.max_len, dim, dtype=dtype, rngs=rngs)
        self.dropout = Dropout(config.dropout, rngs=rngs)
        self.blocks = nnx.List([TransformerBlock(config, rngs=rngs) for _ in range(config.num_layers)])
        self.ln_f = nnx.LayerNorm(dim, dtype=dtype, rngs=rngs)

    def logits(self, x: jax.Array) -> jax.Array:
        """Final features `x [..., H]` -> logits f32[..., V] (final norm, tied head)."""
        return self.wte.attend(self.ln_f(x)).astype(jnp.float32)

    def _embed(self, tokens: jax.Array) -> jax.Array:
        t = tokens.shape[1]
        if t > self.config.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len={self.config.max_len}")
        return self.dropout(self.wte(tokens) + self.wpe(jnp.arange(t))[None])

    def features(self, tokens: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """`tokens int32[B,T]` -> (features [B,T,H] before the final norm, MoE aux loss f32[])."""
        check_tokens(tokens, 2)
        x = self._embed(tokens)
        aux = jnp.zeros((), jnp.float32)
        for block in self.blocks:
            x, block_aux, _ = block(x, mask)
            aux = aux + block_aux
        return x, aux

    def __call__(self, tokens: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        x, aux = self.features(tokens, mask)
        logits = self.logits(x)
        chex.assert_shape(logits, (*tokens.shape, self.config.vocab_size))
        return logits, aux

    def prefill(self, tokens: jax.Array, lengths: jax.Array) -> tuple[DecodeState, jax.Array]:
        """(KV cache after token lengths-1 of each row, logits f32[B,V] at position lengths-1)."""
        check_tokens(tokens, 2)
        chex.assert_shape(lengths, tokens.shape[:1])
        mask = jnp.arange(tokens.shape[1])[None, :] < lengths[:, None]
        x = self._embed(tokens)
        layers = []
        for block in self.blocks:
            x, _, kv = block(x, mask)
            layers.append({"kv": fill_cache(kv, self.config.max_len)})
        logits = self.logits(last_positions(x, lengths))
        return {"layers": tuple(layers), "pos": lengths.astype(jnp.int32)}, logits

    def decode_step(self, state: DecodeState, token: jax.Array) -> tuple[jax.Array, DecodeState]:
        """Positions past max_len - 1 are outside the cache and the position table: the caller stops there."""
        check_tokens(token, 1)
        pos = state["pos"]
        x = self.dropout(self.wte(token) + self.wpe(pos))
        layers = []
        for block, layer in zip(self.blocks, state["layers"]):
            x, layer = block.decode(x, layer, pos)
            layers.append(layer)
        return self.logits(x), {"layers": tuple(layers), "pos": pos + 1}
