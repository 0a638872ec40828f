"""LanguageModel: token embedding -> N blocks (cell, optional MoE, optional attention) -> LayerNorm -> head.

A block is pre-norm with residuals: `x += drop(cell(LN(x)))`, then `x += drop(moe(LN(x)))` and
`x += drop(attn(LN(x)))` when enabled. The first block's cell reads the embedding directly; when
`embed_dim != hidden_dim` that block has no residual (as in the dissertation, where the cell maps
embeddings to hidden states). Generation: `prefill(tokens, lengths)` runs the sequence once and returns a
cache holding each layer's last state (plus keys and values when attention is on) and the logits of each
row's last token only (the head runs on one position per row, not T); `decode_step` then costs O(1) per
token for every recurrent cell.
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.models.attention import SelfAttention, fill_cache
from jaxlua.models.cells import GRU, LSTM, RNN
from jaxlua.models.config import ModelConfig
from jaxlua.models.dropout import Dropout
from jaxlua.models.min_cells import MinGRU, MinLSTM
from jaxlua.models.moe import MoE

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU, "mingru": MinGRU, "minlstm": MinLSTM}
DecodeState = dict[str, Any]  # {"layers": tuple of per-layer dicts, "pos": int32[B] (next position)}


def last_positions(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """`x [B,T,D]` -> `x[b, lengths[b] - 1]` as `[B,D]`: each row's last valid position."""
    index = jnp.clip(lengths.astype(jnp.int32) - 1, 0, x.shape[1] - 1)
    return jnp.take_along_axis(x, index[:, None, None], axis=1)[:, 0]


def check_tokens(tokens: jax.Array, rank: int) -> None:
    chex.assert_rank(tokens, rank)
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise TypeError(f"tokens must be integer ids; got dtype {tokens.dtype}")


class Block(nnx.Module):
    """One recurrent block; see the module docstring."""

    def __init__(self, config: ModelConfig, in_dim: int, *, rngs: nnx.Rngs) -> None:
        hidden, dtype = config.hidden_dim, config.compute_dtype
        self.residual = in_dim == hidden
        self.norm = nnx.LayerNorm(in_dim, dtype=dtype, rngs=rngs)
        self.cell = CELLS[config.cell](in_dim, hidden, dtype=dtype, scan_method=config.scan_method, rngs=rngs)
        self.moe_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs) if config.num_experts else None
        self.moe = (MoE(hidden, config.num_experts, config.moe_top_k, dtype=dtype, rngs=rngs)
                    if config.num_experts else None)
        self.attn_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs) if config.attention else None
        self.attn = (SelfAttention(hidden, config.num_heads, dtype=dtype, rngs=rngs)
                     if config.attention else None)
        self.dropout = Dropout(config.dropout, rngs=rngs)

    def _add(self, x: jax.Array, y: jax.Array, residual: bool = True) -> jax.Array:
        y = self.dropout(y)
        return x + y if residual else y

    def __call__(self, x: jax.Array, mask: jax.Array | None = None):
        """`x [B,T,in]` -> (x [B,T,H], last cell state, aux loss, (keys, values) or None)."""
        y, state = self.cell(self.norm(x), mask=mask)
        x = self._add(x, y, self.residual)
        aux = jnp.zeros((), jnp.float32)
        if self.moe is not None:
            y, aux = self.moe(self.moe_norm(x), mask)
            x = self._add(x, y)
        kv = None
        if self.attn is not None:
            y, kv = self.attn(self.attn_norm(x), mask, return_kv=True)
            x = self._add(x, y)
        return x, state, aux, kv

    def decode(self, x: jax.Array, layer: dict, pos: jax.Array) -> tuple[jax.Array, dict]:
        """One token `x [B,in]` -> (x [B,H], updated layer cache)."""
        state, y = self.cell.step(layer["cell"], self.norm(x))
        x = self._add(x, y, self.residual)
        if self.moe is not None:
            x = self._add(x, self.moe(self.moe_norm(x))[0])
        new = {"cell": state}
        if self.attn is not None:
            y, new["kv"] = self.attn.decode(self.attn_norm(x), layer["kv"], pos)
            x = self._add(x, y)
        return x, new


class LanguageModel(nnx.Module):
    """Next-token model over one of the five recurrent cells."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        if config.cell not in CELLS:
            raise ValueError(f"LanguageModel needs a recurrent cell {tuple(CELLS)}; got {config.cell!r} "
                             "(use jaxlua.models.build for the transformer)")
        self.config = config
        dtype = config.compute_dtype
        self.embed = nnx.Embed(config.vocab_size, config.embed_dim, dtype=dtype, rngs=rngs)
        self.dropout = Dropout(config.dropout, rngs=rngs)
        dims = [config.embed_dim] + [config.hidden_dim] * (config.num_layers - 1)
        self.blocks = nnx.List([Block(config, d, rngs=rngs) for d in dims])
        self.norm = nnx.LayerNorm(config.hidden_dim, dtype=dtype, rngs=rngs)
        self.head = nnx.Linear(config.hidden_dim, config.vocab_size, dtype=dtype, rngs=rngs)

    def logits(self, x: jax.Array) -> jax.Array:
        """Final features `x [..., H]` (from `features`) -> logits f32[..., V]: the final norm and the head."""
        return self.head(self.norm(x)).astype(jnp.float32)

    def features(self, tokens: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """`tokens int32[B,T]` -> (features [B,T,H] before the final norm, MoE aux loss f32[]).

        `__call__` is `logits(features(...))`; the train step calls the two halves itself so that the head runs
        only on the positions the loss reads.
        """
        check_tokens(tokens, 2)
        x = self.dropout(self.embed(tokens))
        aux = jnp.zeros((), jnp.float32)
        for block in self.blocks:
            x, _, block_aux, _ = block(x, mask)
            aux = aux + block_aux
        return x, aux

    def __call__(self, tokens: jax.Array, mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
        """`tokens int32[B,T]`, `mask bool[B,T]` -> (logits f32[B,T,V], MoE aux loss f32[])."""
        x, aux = self.features(tokens, mask)
        logits = self.logits(x)
        chex.assert_shape(logits, (*tokens.shape, self.config.vocab_size))
        return logits, aux

    def prefill(self, tokens: jax.Array, lengths: jax.Array) -> tuple[DecodeState, jax.Array]:
        """Run `tokens [B,T]` (row b valid up to `lengths[b] >= 1`) -> (cache after token lengths-1, logits f32[B,V]).

        The logits are those of position `lengths-1` of each row (what `__call__` gives there): decoding needs
        nothing else, so the norm and head run on one position per row.
        """
        check_tokens(tokens, 2)
        chex.assert_shape(lengths, tokens.shape[:1])
        mask = jnp.arange(tokens.shape[1])[None, :] < lengths[:, None]
        x = self.dropout(self.embed(tokens))
        layers = []
        for block in self.blocks:
            x, state, _, kv = block(x, mask)
            layer = {"cell": state}
            if kv is not None:
                layer["kv"] = fill_cache(kv, self.config.max_len)
            layers.append(layer)
        logits = self.logits(last_positions(x, lengths))
        return {"layers": tuple(layers), "pos": lengths.astype(jnp.int32)}, logits

    def decode_step(self, state: DecodeState, token: jax.Array) -> tuple[jax.Array, DecodeState]:
        """Feed one token per row (`int32[B]`) -> (logits f32[B,V], state advanced by one)."""
        check_tokens(token, 1)
        x = self.dropout(self.embed(token))
        layers = []
        for block, layer in zip(self.blocks, state["layers"]):
            x, layer = block.decode(x, layer, state["pos"])
            layers.append(layer)
        return self.logits(x), {"layers": tuple(layers), "pos": state["pos"] + 1}
