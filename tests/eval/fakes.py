"""Tiny stand-ins for the tokenizer, vocabulary, encoded dataset and models, with the BRIEF's interfaces.

They let the evaluation code be tested on its own: outputs are characters, programs are whitespace
separated words, and the two models have hand-checkable behaviour.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

SPECIALS = ("<PAD>", "<BOS>", "<PROGRAM END>", "<EOS>", "<UNK>")


class ToySyntaxError(ValueError):
    """A program containing '@' does not parse."""


class ToyTokenizer:
    """Programs: whitespace-split words. Outputs: one token per character."""

    def program_tokens(self, source: str) -> list[str]:
        if "@" in source:
            raise ToySyntaxError(f"unexpected '@' in {source!r}")
        return source.split()

    def output_tokens(self, stdout: str) -> list[str]:
        return list(stdout)

    def decode_output(self, tokens: list[str]) -> str:
        for token in tokens:
            if len(token) != 1:
                raise ValueError(f"not an output token: {token!r}")
        return "".join(tokens)


class ToyVocab:
    """PAD=0, BOS=1, SEP=2, EOS=3, UNK=4, then the given tokens."""

    def __init__(self, tokens: list[str]) -> None:
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.sep_id, self.eos_id, self.unk_id = range(5)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: list[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]


@dataclasses.dataclass
class ToyDataset:
    tokens: np.ndarray
    lengths: np.ndarray
    output_start: np.ndarray
    level: np.ndarray
    ids: list[str]
    report: dict


def encode(records: list[dict], tokenizer: ToyTokenizer, vocab: ToyVocab, max_len: int) -> ToyDataset:
    """BOS program SEP output EOS PAD..., as jaxlua.tokenize.encode_dataset lays it out."""
    tokens = np.zeros((len(records), max_len), dtype=np.int32)
    lengths, starts = [], []
    for row, record in enumerate(records):
        prompt = [vocab.bos_id, *vocab.encode(tokenizer.program_tokens(record["source"])), vocab.sep_id]
        ids = prompt + vocab.encode(tokenizer.output_tokens(record["stdout"])) + [vocab.eos_id]
        assert len(ids) <= max_len
        tokens[row, : len(ids)] = ids
        lengths.append(len(ids))
        starts.append(len(prompt))
    return ToyDataset(tokens, np.array(lengths, np.int32), np.array(starts, np.int32),
                      np.array([r["level"] for r in records], np.int32), [r["id"] for r in records],
                      {"kept": len(records)})


class BigramLM(nnx.Module):
    """Next-token log-probabilities depend on the previous token only: logits = table[token].

    A dropout layer sits on the logits so that a decoder which forgets eval mode gives wrong answers.
    """

    def __init__(self, log_probs: np.ndarray, *, rngs: nnx.Rngs) -> None:
        self.table = nnx.Param(jnp.asarray(log_probs, dtype=jnp.float32))
        self.dropout = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, tokens, mask=None):
        return self.dropout(self.table[...][tokens]), jnp.float32(0.0)

    def prefill(self, tokens, lengths):
        last = tokens[jnp.arange(tokens.shape[0]), lengths - 1]
        return last, self.dropout(self.table[...][last])

    def decode_step(self, state, token):
        return self.dropout(self.table[...][token]), token


class RecurrentLM(nnx.Module):
    """h_t = tanh(W h_{t-1} + E[x_t]), logits = h_t O: a state that depends on the whole prefix."""

    def __init__(self, vocab_size: int, hidden: int = 16, *, rngs: nnx.Rngs, scale: float = 1.0) -> None:
        self.embed = nnx.Param(jax.random.normal(rngs.params(), (vocab_size, hidden)))
        self.recur = nnx.Param(jax.random.normal(rngs.params(), (hidden, hidden)) / np.sqrt(hidden))
        self.out = nnx.Param(scale * jax.random.normal(rngs.params(), (hidden, vocab_size)))
        self.hidden = hidden

    def _cell(self, h, token):
        return jnp.tanh(h @ self.recur[...] + self.embed[...][token])

    def _scan(self, tokens, mask):
        def step(h, inputs):
            token, keep = inputs
            new_h = jnp.where(keep[:, None], self._cell(h, token), h)
            return new_h, new_h

        h0 = jnp.zeros((tokens.shape[0], self.hidden))
        h_last, hs = jax.lax.scan(step, h0, (tokens.T, mask.T))
        return h_last, jnp.swapaxes(hs, 0, 1) @ self.out[...]

    def __call__(self, tokens, mask=None):
        mask = jnp.ones(tokens.shape, bool) if mask is None else mask
        return self._scan(tokens, mask)[1], jnp.float32(0.0)

    def prefill(self, tokens, lengths):
        mask = jnp.arange(tokens.shape[1])[None, :] < lengths[:, None]
        h_last, logits = self._scan(tokens, mask)
        return h_last, logits[jnp.arange(tokens.shape[0]), lengths - 1]

    def decode_step(self, state, token):
        h = self._cell(state, token)
        return h @ self.out[...], h
