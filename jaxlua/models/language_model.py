"""LanguageModel: token embedding -> N blocks (cell, optional MoE, attention, recall, MLP) -> LayerNorm -> head.

A block is pre-norm with residuals: `x += drop(cell(conv(LN(x))))` (the causal convolution only when
`conv_width > 0`), then `x += drop(moe(LN(x)))`, `x += drop(attn(LN(x)))`, `x += drop(recall(LN(x)))` and
`x += drop(mlp(LN(x)))` when enabled. Program recall (`recall_dim`, jaxlua.models.recall) lets the output
positions attend over the program positions and leaves the program positions unchanged. The first block's cell
reads the embedding directly; when `embed_dim != hidden_dim` that block has no residual (as in the dissertation,
where the cell maps embeddings to hidden states). Generation: `prefill(tokens, lengths)` runs the sequence once
and returns a cache holding each layer's last state (plus keys and values when attention or recall is on) and
the logits of each row's last token only (the head runs on one position per row, not T); `decode_step` then
costs O(1) per token for every recurrent cell.

With `program_encoder` each block also has a backward cell of the same kind (width `in_dim`) that reads the
program (the positions before the first SEP) right to left; its output, zero outside the program, is added to the
forward cell's input, so the forward state at SEP has read the program both ways. (Added to the block's output
instead, the last block's backward cell would reach only the program positions' logits, which the output loss
never reads: no gradient, and a one-block model would gain nothing.) The output is still written left to right:
output tokens never reach the backward cell, so `prefill` on the prompt (BOS program SEP) includes it and
`decode_step` needs no backward state.
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from jaxlua.config import CELLS, ModelConfig
from jaxlua.models.attention import SelfAttention, fill_cache
from jaxlua.models.block_parts import CausalConv, GatedMLP
from jaxlua.models.dropout import Dropout
from jaxlua.models.moe import MoE
from jaxlua.models.recall import ProgramRecall

DecodeState = dict[str, Any]  # {"layers": tuple of per-layer dicts, "pos": int32[B] (next position)}

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


class Block(nnx.Module):
    """One recurrent block; see the module docstring."""

    def __init__(self, config: ModelConfig, in_dim: int, *, rngs: nnx.Rngs) -> None:
        hidden, dtype = config.hidden_dim, config.compute_dtype
        self.residual = in_dim == hidden
        self.norm = nnx.LayerNorm(in_dim, dtype=dtype, rngs=rngs)
        self.conv = CausalConv(in_dim, config.conv_width, dtype=dtype, rngs=rngs) if config.conv_width else None
        self.cell = CELLS.get(config.cell)(in_dim, hidden, dtype=dtype, scan_method=config.scan_method, rngs=rngs)
        self.backward_cell = (CELLS.get(config.cell)(in_dim, in_dim, dtype=dtype, scan_method=config.scan_method,
                                                     rngs=rngs)
                              if config.program_encoder else None)
        self.moe_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs) if config.num_experts else None
        self.moe = (MoE(hidden, config.num_experts, config.moe_top_k, dtype=dtype, rngs=rngs)
                    if config.num_experts else None)
        self.attn_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs) if config.attention else None
        self.attn = (SelfAttention(hidden, config.num_heads, dtype=dtype, rngs=rngs)
                     if config.attention else None)
        self.recall_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs) if config.recall_dim else None
        self.recall = (ProgramRecall(hidden, config.recall_dim, dtype=dtype, rngs=rngs)
                       if config.recall_dim else None)
        self.mlp_norm = nnx.LayerNorm(hidden, dtype=dtype, rngs=rngs) if config.mlp_ratio else None
        self.mlp = GatedMLP(hidden, config.mlp_ratio, dtype=dtype, rngs=rngs) if config.mlp_ratio else None
        self.dropout = Dropout(config.dropout, rngs=rngs)

    def _add(self, x: jax.Array, y: jax.Array, residual: bool = True) -> jax.Array:
        y = self.dropout(y)
        return x + y if residual else y

    def _read_backward(self, u: jax.Array, program: jax.Array) -> jax.Array:
        """The backward cell over the program positions, right to left: `u [B,T,in]` -> [B,T,in], zero outside.

        Inputs outside the program are zeroed and the time axis flipped; the cell carries its state unchanged
        where the flipped program mask is False, so it starts from zero at each row's last program token.
        """
        inside = program[:, :, None]
        y, _ = self.backward_cell(jnp.flip(jnp.where(inside, u, 0), axis=1), mask=jnp.flip(program, axis=1))
        return jnp.where(inside, jnp.flip(y, axis=1), 0)

    def __call__(self, x: jax.Array, mask: jax.Array | None = None, lengths: jax.Array | None = None,
                 program: jax.Array | None = None):
        """`x [B,T,in]` -> (x [B,T,H], aux loss, layer cache or None).

        With `lengths` (prefill) the layer cache for decoding is returned: the last cell state, the keys and
        values when attention is on, the recall memory when recall is on, and the convolution's last inputs of
        each row when it is on. `program` (bool[B,T], from `program_mask`) is needed when the block has a
        backward cell or program recall.
        """
        u = self.norm(x)
        conv_in = u
        if self.conv is not None:
            u = self.conv(u)
        if program is None and (self.backward_cell is not None or self.recall is not None):
            raise ValueError("a block with a backward cell (program_encoder) or recall needs the program mask")
        if self.backward_cell is not None:
            u = u + self._read_backward(u, program)
        y, state = self.cell(u, mask=mask)
        x = self._add(x, y, self.residual)
        aux = jnp.zeros((), jnp.float32)
        if self.moe is not None:
            y, aux = self.moe(self.moe_norm(x), mask)
            x = self._add(x, y)
        kv = None
        if self.attn is not None:
            y, kv = self.attn(self.attn_norm(x), mask, return_kv=True)
            x = self._add(x, y)
        memory = None
        if self.recall is not None:
            outputs = ~program if mask is None else mask & ~program
            y, memory = self.recall(self.recall_norm(x), program, outputs)
            x = self._add(x, y)
        if self.mlp is not None:
            x = self._add(x, self.mlp(self.mlp_norm(x)))
        if lengths is None:
            return x, aux, None
        cache = {"cell": state}
        if kv is not None:
            cache["kv"] = kv
        if memory is not None:
            cache["recall"] = memory
        if self.conv is not None:
            cache["conv"] = self.conv.state_after(conv_in, lengths)
        return x, aux, cache

    def decode(self, x: jax.Array, layer: dict, pos: jax.Array) -> tuple[jax.Array, dict]:
        """One token `x [B,in]` -> (x [B,H], updated layer cache)."""
        u = self.norm(x)
        new = {}
        if self.conv is not None:
            new["conv"], u = self.conv.step(layer["conv"], u)
        state, y = self.cell.step(layer["cell"], u)
        new["cell"] = state
        x = self._add(x, y, self.residual)
        if self.moe is not None:
            x = self._add(x, self.moe(self.moe_norm(x))[0])
        if self.attn is not None:
            y, new["kv"] = self.attn.decode(self.attn_norm(x), layer["kv"], pos)
            x = self._add(x, y)
        if self.recall is not None:
            new["recall"] = layer["recall"]
            x = self._add(x, self.recall.decode(self.recall_norm(x), layer["recall"]))
        if self.mlp is not None:
            x = self._add(x, self.mlp(self.mlp_norm(x)))
        return x, new


class LanguageModel(nnx.Module):
    """Next-token model over one of the registered recurrent cells (jaxlua.config.CELLS)."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        if config.cell not in CELLS:
            raise ValueError(f"LanguageModel needs a recurrent cell {CELLS.names()}; got {config.cell!r} "
                             "(use jaxlua.models.build for the transformer)")
        self.config = config
        dtype = config.compute_dtype
        self.embed = nnx.Embed(config.vocab_size, config.embed_dim, dtype=dtype, rngs=rngs)
        self.dropout = Dropout(config.dropout, rngs=rngs)
        dims = [config.embed_dim] + [config.hidden_dim] * (config.num_layers - 1)
        self.blocks = nnx.List([Block(config, d, rngs=rngs) for d in dims])
        self.norm = nnx.LayerNorm(config.hidden_dim, dtype=dtype, rngs=rngs)
        self.head = nnx.Linear(config.hidden_dim, config.vocab_size, dtype=dtype, rngs=rngs)

    @property
    def _needs_program(self) -> bool:
        return self.config.program_encoder or bool(self.config.recall_dim)

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
        program = program_mask(tokens, mask) if self._needs_program else None
        aux = jnp.zeros((), jnp.float32)
        for block in self.blocks:
            x, block_aux, _ = block(x, mask, program=program)
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
        program = program_mask(tokens, mask) if self._needs_program else None
        layers = []
        for block in self.blocks:
            x, _, layer = block(x, mask, lengths, program=program)
            if "kv" in layer:
                layer["kv"] = fill_cache(layer["kv"], self.config.max_len)
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
