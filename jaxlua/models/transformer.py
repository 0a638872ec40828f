"""Decoder-only Transformer baseline (nanoGPT-style; the TEX model family): a LanguageModel layout.

Every block is `x += drop(attn(LN(x)))`, `x += drop(mlp(LN(x)))` (the MLP replaced by the MoE layer with
`num_experts > 0`); the width is `config.hidden_dim` throughout, a learned position embedding of `max_len`
positions is added to the tokens', and the head is tied to the token embedding. Training, prefill and decoding
(with a KV cache of `max_len` positions) are the LanguageModel's.
"""
from __future__ import annotations

import jax
from flax import nnx

from jaxlua.config import ModelConfig
from jaxlua.models.language_model import LanguageModel, Layout
from jaxlua.models.parts import Branch, Context, Part, no_aux


class MLP(Part):
    """`dim -> 4 dim -> GELU -> dim`, a stateless block part (registered as "mlp")."""

    def __init__(self, config: ModelConfig, dim: int, *, rngs: nnx.Rngs) -> None:
        dtype = config.compute_dtype
        self.up = nnx.Linear(dim, 4 * dim, dtype=dtype, rngs=rngs)
        self.down = nnx.Linear(4 * dim, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, ctx: Context, cache: None = None) -> tuple[jax.Array, None, jax.Array]:
        del ctx, cache
        return self.down(jax.nn.gelu(self.up(x))), None, no_aux()


class Transformer(LanguageModel):
    """Token + learned position embeddings -> N blocks (attention, MLP or MoE) -> LayerNorm -> tied head."""

    @classmethod
    def layout_for(cls, config: ModelConfig) -> Layout:
        channel = Branch("moe") if config.num_experts else Branch("mlp")
        return Layout((Branch("attention", "attn"), channel), config.hidden_dim, learned_positions=True,
                      tied_head=True)
