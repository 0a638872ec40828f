"""LanguageModel: token embedding -> N blocks of parts -> LayerNorm -> head, for every model kind.

A model is its `Layout` (`layout_for(config)`): the pattern of branches each block runs (jaxlua.models.block),
the embedding width, whether a learned position embedding is added to the tokens' and whether the head is tied
to the token embedding. The recurrent model's blocks are `cell` (with the optional convolution and program
encoder inside), then `moe`, `attention`, `recall` and the gated MLP when the config enables them; the
Transformer (jaxlua.models.transformer) is the same class with another layout.

One call serves training, prefill and decoding: `extend(state, tokens, lengths)` runs new tokens through every
block from the cache in `state` (a `DecodeState`) and returns the cache after them. `prefill` is `extend` from
`init_cache` on the prompt, which gives the logits of each row's last token only (the head runs on one position
per row, not T); `decode_step` is `extend` on one token per row, O(1) per token for every recurrent cell. The
parts read the program mask (the positions before the first SEP) from the call's `Context`: the first call on a
cache computes it from its tokens, and a call continuing a started cache has only output positions.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import chex
import jax
import jax.numpy as jnp
from flax import nnx, struct

from jaxlua.config import CELLS, ModelConfig
from jaxlua.models.block import Block, BlockCache
from jaxlua.models.dropout import Dropout
from jaxlua.models.parts import Branch, Context

# The id of SEP (`<PROGRAM END>`), which ends the program: a copy of jaxlua.tokenize.Vocabulary's `sep_id`, since
# the model side imports no tokenizer (no tree-sitter); tests/models/test_program_encoder.py checks they agree.
SEP_ID = 2


def program_mask(tokens: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """`tokens int32[B,T]` -> bool[B,T]: the positions before each row's first SEP (and inside `mask`)."""
    program = jnp.cumsum(tokens == SEP_ID, axis=1) == 0
    return program if mask is None else program & mask


def last_positions(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """`x [B,T,D]` -> `x[b, lengths[b] - 1]` as `[B,D]`: each row's last valid position."""
    index = jnp.clip(lengths.astype(jnp.int32) - 1, 0, x.shape[1] - 1)
    return jnp.take_along_axis(x, index[:, None, None], axis=1)[:, 0]


def check_tokens(tokens: jax.Array, rank: int) -> None:
    chex.assert_rank(tokens, rank)
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise TypeError(f"tokens must be integer ids; got dtype {tokens.dtype}")


class Layout(NamedTuple):
    """What distinguishes one model kind from another."""

    pattern: tuple[Branch, ...]  # the branches of every block
    embed_dim: int  # the token embedding's width: the first block's input
    learned_positions: bool = False  # add an embedding of each token's position (needs T <= max_len)
    tied_head: bool = False  # logits from the token embedding's transpose instead of a head of their own


@struct.dataclass
class DecodeState:
    """The cache of every block and each row's next position; fields also read by name (`state["pos"]`)."""

    caches: tuple[BlockCache, ...]
    pos: jax.Array  # int32[B]
    started: bool = struct.field(pytree_node=False, default=False)  # holds a prompt (static)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


class LanguageModel(nnx.Module):
    """Next-token model whose blocks follow `layout_for(config)` (or `pattern`, when given)."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs, pattern: Sequence[Branch] | None = None) -> None:
        layout = self.layout_for(config)
        if pattern is not None:
            layout = layout._replace(pattern=tuple(pattern))
        self.config, self.layout = config, layout
        dtype, width = config.compute_dtype, layout.embed_dim
        self.embed = nnx.Embed(config.vocab_size, width, dtype=dtype, rngs=rngs)
        if layout.learned_positions:
            self.positions = nnx.Embed(config.max_len, width, dtype=dtype, rngs=rngs)
        self.dropout = Dropout(config.dropout, rngs=rngs)
        dims = [width] + [config.hidden_dim] * (config.num_layers - 1)
        self.blocks = nnx.List([Block(config, d, layout.pattern, rngs=rngs) for d in dims])
        self.norm = nnx.LayerNorm(config.hidden_dim, dtype=dtype, rngs=rngs)
        if not layout.tied_head:
            self.head = nnx.Linear(config.hidden_dim, config.vocab_size, dtype=dtype, rngs=rngs)

    @classmethod
    def layout_for(cls, config: ModelConfig) -> Layout:
        """The recurrent model: the cell, then MoE, attention, recall and the gated MLP where enabled."""
        if config.cell not in CELLS:
            raise ValueError(f"LanguageModel needs a recurrent cell {CELLS.names()}; got {config.cell!r} "
                             "(use jaxlua.models.build for the transformer)")
        pattern = [Branch("cell", norm="norm")]
        if config.num_experts:
            pattern.append(Branch("moe"))
        if config.attention:
            pattern.append(Branch("attention", "attn"))
        if config.recall_dim:
            pattern.append(Branch("recall"))
        if config.mlp_ratio:
            pattern.append(Branch("gated_mlp", "mlp"))
        return Layout(tuple(pattern), config.embed_dim)

    def logits(self, x: jax.Array) -> jax.Array:
        """Final features `x [..., H]` (from `features`) -> logits f32[..., V]: the final norm and the head."""
        x = self.norm(x)
        return (self.embed.attend(x) if self.layout.tied_head else self.head(x)).astype(jnp.float32)

    def _run(self, tokens: jax.Array, mask: jax.Array | None,
             state: DecodeState | None) -> tuple[jax.Array, jax.Array, tuple[BlockCache, ...] | None]:
        """Every block on `tokens [B,T]` -> (features [B,T,H], aux loss, the caches after them or None)."""
        t = tokens.shape[1]
        continues = state is not None and state.started
        if continues:
            positions = state.pos[:, None] + jnp.arange(t, dtype=jnp.int32)[None]
            program = jnp.zeros(tokens.shape, bool)
        else:
            positions = jnp.arange(t, dtype=jnp.int32)[None]
            program = program_mask(tokens, mask)
        ctx = Context(mask, program, positions, continues)
        x = self.embed(tokens)
        if self.layout.learned_positions:
            if t > self.config.max_len:
                raise ValueError(f"sequence length {t} exceeds max_len={self.config.max_len}")
            x = x + self.positions(positions)
        x = self.dropout(x)
        aux = jnp.zeros((), jnp.float32)
        caches = []
        for index, block in enumerate(self.blocks):
            x, cache, block_aux = block(x, ctx, None if state is None else state.caches[index])
            aux = aux + block_aux
            caches.append(cache)
        return x, aux, None if state is None else tuple(caches)

    def features(self, tokens: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """`tokens int32[B,T]` -> (features [B,T,H] before the final norm, MoE aux loss f32[]).

        `__call__` is `logits(features(...))`; the train step calls the two halves itself so that the head runs
        only on the positions the loss reads.
        """
        check_tokens(tokens, 2)
        x, aux, _ = self._run(tokens, mask, None)
        return x, aux

    def __call__(self, tokens: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """`tokens int32[B,T]`, `mask bool[B,T]` -> (logits f32[B,T,V], MoE aux loss f32[])."""
        x, aux = self.features(tokens, mask)
        logits = self.logits(x)
        chex.assert_shape(logits, (*tokens.shape, self.config.vocab_size))
        return logits, aux

    def init_cache(self, batch: int) -> DecodeState:
        """The state before any token: every part's empty cache (attention holds `max_len` positions)."""
        dtype, max_len = self.config.compute_dtype, self.config.max_len
        caches = tuple(block.init_cache(batch, max_len, dtype) for block in self.blocks)
        return DecodeState(caches, jnp.zeros((batch,), jnp.int32))

    def extend(self, state: DecodeState, tokens: jax.Array,
               lengths: jax.Array | None = None) -> tuple[DecodeState, jax.Array]:
        """`tokens int32[B,T]` (row b real up to `lengths[b]`, default T) after `state` -> (state after them,
        features [B,T,H]). From `init_cache` the tokens are a prompt; after it they are all output positions."""
        check_tokens(tokens, 2)
        mask = None
        if lengths is not None:
            chex.assert_shape(lengths, tokens.shape[:1])
            mask = jnp.arange(tokens.shape[1])[None, :] < lengths[:, None]
        x, _, caches = self._run(tokens, mask, state)
        advance = tokens.shape[1] if lengths is None else lengths.astype(jnp.int32)
        return DecodeState(caches, state.pos + advance, started=True), x

    def prefill(self, tokens: jax.Array, lengths: jax.Array) -> tuple[DecodeState, jax.Array]:
        """Run `tokens [B,T]` (row b valid up to `lengths[b] >= 1`) -> (cache after token lengths-1, logits f32[B,V]).

        The logits are those of position `lengths-1` of each row (what `__call__` gives there): decoding needs
        nothing else, so the norm and head run on one position per row.
        """
        state, x = self.extend(self.init_cache(tokens.shape[0]), tokens, lengths)
        return state, self.logits(last_positions(x, lengths))

    def decode_step(self, state: DecodeState, token: jax.Array) -> tuple[jax.Array, DecodeState]:
        """Feed one token per row (`int32[B]`) -> (logits f32[B,V], state advanced by one).

        With learned positions, positions past max_len - 1 are outside the position table: the caller stops there.
        """
        check_tokens(token, 1)
        state, x = self.extend(state, token[:, None])
        return self.logits(x[:, 0]), state
