"""Jit-compiled batched decoding (greedy and temperature sampling) and teacher-forced output NLL.

The model is split once into (graphdef, state); graphdef is a static jit argument and state a traced
one, so one compilation serves every batch of the same shape. Shapes are kept static: batches are padded
to a fixed size and prompts to a few length buckets. Decoding is `prefill` on the prompt
(BOS program SEP), which gives the logits of its last token, then `decode_step` inside a `lax.while_loop`
that stops when every row has emitted EOS or reached its length cap; nothing returns to the host until the
batch is done. Per call the host work is kept small (it is most of the batch-1 latency budget): graphdef
travels in a holder that hashes once, the state as a flat list of arrays, and the inputs as NumPy arrays,
which jit transfers more cheaply than `jnp.asarray` would.
"""
from __future__ import annotations

import functools
from typing import Any, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

MIN_BUCKET = 16


def length_bucket(length: int, max_len: int) -> int:
    """Smallest power of two >= length (at least MIN_BUCKET), capped at max_len: few distinct shapes."""
    if not 1 <= length <= max_len:
        raise ValueError(f"sequence length {length} is outside [1, max_len={max_len}]")
    bucket = MIN_BUCKET
    while bucket < length:
        bucket *= 2
    return min(bucket, max_len)


class _Structure:
    """A model's (graphdef, state treedef) as a static jit argument whose hash is computed once.

    Hashing an nnx.GraphDef costs host time, which jit would pay on every call; equal
    structures (a fresh Decoder of the same model) still compare equal, so they share one compilation.
    """

    __slots__ = ("graphdef", "treedef", "_hash")

    def __init__(self, graphdef: nnx.GraphDef, treedef: Any) -> None:
        self.graphdef, self.treedef = graphdef, treedef
        self._hash = hash((graphdef, treedef))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _Structure) and self._hash == other._hash
                                 and self.graphdef == other.graphdef and self.treedef == other.treedef)

    def merge(self, leaves: list[jax.Array]) -> nnx.Module:
        return nnx.merge(self.graphdef, jax.tree.unflatten(self.treedef, leaves))


@functools.partial(
    jax.jit, static_argnames=("structure", "max_new_tokens", "sample", "eos_id", "pad_id", "max_len")
)
def _generate(structure, leaves, prompts, prompt_lengths, key, temperature, *,
              max_new_tokens: int, sample: bool, eos_id: int, pad_id: int, max_len: int):
    """Decode up to max_new_tokens per row; rows stop at EOS or when prompt + output fills max_len."""
    model = structure.merge(leaves)
    batch = prompts.shape[0]
    cache, next_logits = model.prefill(prompts, prompt_lengths)  # logits [B,V] of each prompt's last token
    next_logits = next_logits.astype(jnp.float32)
    out = jnp.full((batch, max_new_tokens), pad_id, dtype=jnp.int32)
    done = jnp.zeros((batch,), dtype=bool)

    def cond(carry):
        step, _, _, done, _, _ = carry
        return (step < max_new_tokens) & ~jnp.all(done)

    def body(carry):
        step, cache, logits, done, out, key = carry
        if sample:
            key, sample_key = jax.random.split(key)
            token = jax.random.categorical(sample_key, logits / temperature, axis=-1)
        else:
            token = jnp.argmax(logits, axis=-1)
        token = jnp.where(done, pad_id, token).astype(jnp.int32)
        out = jax.lax.dynamic_update_slice(out, token[:, None], (0, step))
        done = done | (token == eos_id) | (prompt_lengths + step + 1 >= max_len)
        logits, cache = model.decode_step(cache, token)
        return step + 1, cache, logits.astype(jnp.float32), done, out, key

    carry = (jnp.int32(0), cache, next_logits, done, out, key)
    _, _, _, _, out, _ = jax.lax.while_loop(cond, body, carry)
    return out


@functools.partial(jax.jit, static_argnames=("structure",))
def _output_nll(structure, leaves, tokens, lengths, output_start):
    """Per-row NLL (nats) of the output tokens output_start..lengths-1 (EOS included) and their count."""
    model = structure.merge(leaves)
    positions = jnp.arange(tokens.shape[1])
    mask = positions[None, :] < lengths[:, None]
    logits, _ = model(tokens, mask)
    logits = logits[:, :-1].astype(jnp.float32)
    targets = tokens[:, 1:]
    # -log softmax(logits)[target] without materialising the [B,T,V] log-probabilities
    nll = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    target_pos = positions[None, 1:]
    is_output = (target_pos >= output_start[:, None]) & (target_pos < lengths[:, None])
    return jnp.sum(jnp.where(is_output, nll, 0.0), axis=1), jnp.sum(is_output, axis=1)


class Decoder:
    """Batched decoding and scoring for one model in eval mode (dropout off); the caller's model is untouched."""

    def __init__(self, model: nnx.Module, *, eos_id: int, pad_id: int, max_len: int) -> None:
        for name in ("prefill", "decode_step"):
            if not callable(getattr(model, name, None)):
                raise TypeError(f"{type(model).__name__} has no {name}(); decoding needs prefill and decode_step")
        eval_view = nnx.view(model, deterministic=True, use_running_average=True, raise_if_not_found=False)
        self.graphdef, self.state = nnx.split(eval_view)
        self._leaves, treedef = jax.tree.flatten(self.state)
        self._structure = _Structure(self.graphdef, treedef)
        self.eos_id, self.pad_id, self.max_len = int(eos_id), int(pad_id), int(max_len)
        self._greedy_key = jax.random.key(0)  # unused by greedy decoding, but the jit signature takes one

    def generate(self, prompts: np.ndarray, prompt_lengths: np.ndarray, *, max_new_tokens: int,
                 temperature: float = 0.0, key: jax.Array | None = None) -> np.ndarray:
        """Output ids int32[B, max_new_tokens] (PAD after EOS) for prompts int32[B, T] of given lengths.

        temperature == 0 is greedy; > 0 samples from softmax(logits / temperature) with `key`.
        """
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1; got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0; got {temperature}")
        lengths = np.asarray(prompt_lengths, dtype=np.int32)
        if lengths.min() < 1 or lengths.max() >= self.max_len:
            raise ValueError(f"prompt lengths must lie in [1, {self.max_len - 1}]; "
                             f"got {lengths.min()}..{lengths.max()}")
        sample = temperature > 0
        if sample and key is None:
            raise ValueError("sampling (temperature > 0) needs a PRNG key")
        key = self._greedy_key if key is None else key
        out = _generate(self._structure, self._leaves, np.asarray(prompts, dtype=np.int32), lengths, key,
                        np.float32(max(temperature, 1e-6)), max_new_tokens=int(max_new_tokens),
                        sample=sample, eos_id=self.eos_id, pad_id=self.pad_id, max_len=self.max_len)
        return np.asarray(out)

    def output_nll(self, tokens: np.ndarray, lengths: np.ndarray,
                   output_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Teacher-forced (nll_sum float64[B], n_tokens int64[B]) over each row's output tokens, EOS included."""
        nll, count = _output_nll(self._structure, self._leaves, np.asarray(tokens, dtype=np.int32),
                                 np.asarray(lengths, dtype=np.int32), np.asarray(output_start, dtype=np.int32))
        return np.asarray(nll, dtype=np.float64), np.asarray(count, dtype=np.int64)


def strip_output(ids: Sequence[int], eos_id: int) -> list[int]:
    """The generated ids up to (not including) the first EOS; PAD never precedes EOS."""
    ids = [int(i) for i in ids]
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


def _batches(order: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, int]]:
    """Index batches padded to batch_size by repeating the first index; yields (indices, n_real)."""
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        n_real = len(chunk)
        if n_real < batch_size:
            chunk = np.concatenate([chunk, np.full(batch_size - n_real, chunk[0], dtype=chunk.dtype)])
        yield chunk, n_real


def decode_rows(decoder: Decoder, tokens: np.ndarray, output_start: np.ndarray, rows: np.ndarray, *,
                batch_size: int, max_new_tokens: int, temperature: float = 0.0,
                key: jax.Array | None = None, progress: str | None = None) -> list[list[int]]:
    """Decode the prompts tokens[r, :output_start[r]] for every r in rows (repeats allowed, e.g. n samples).

    Rows are sorted by prompt length so that each batch pads to a small bucket; results come back in
    the order of `rows`, each stripped at its first EOS.
    """
    from tqdm import tqdm  # local: tqdm is only needed for the progress bar

    rows = np.asarray(rows, dtype=np.int64)
    results: list[list[int] | None] = [None] * len(rows)
    order = np.argsort(output_start[rows], kind="stable")
    n_batches = -(-len(rows) // batch_size)
    for batch_index, (chunk, n_real) in enumerate(
            tqdm(_batches(order, batch_size), total=n_batches, desc=progress, disable=progress is None)):
        prompt_lengths = output_start[rows[chunk]]
        width = length_bucket(int(prompt_lengths.max()), decoder.max_len)
        prompts = tokens[rows[chunk], :width]
        batch_key = None if key is None else jax.random.fold_in(key, batch_index)
        out = decoder.generate(prompts, prompt_lengths, max_new_tokens=max_new_tokens,
                               temperature=temperature, key=batch_key)
        for position, ids in zip(chunk[:n_real], out[:n_real]):
            results[position] = strip_output(ids, decoder.eos_id)
    return results  # type: ignore[return-value]


def score_rows(decoder: Decoder, tokens: np.ndarray, lengths: np.ndarray, output_start: np.ndarray, *,
               batch_size: int, progress: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced output NLL sums and token counts for every row of an encoded dataset."""
    from tqdm import tqdm

    n = len(lengths)
    nll_sum = np.zeros(n, dtype=np.float64)
    n_tokens = np.zeros(n, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    for chunk, n_real in tqdm(_batches(order, batch_size), total=-(-n // batch_size), desc=progress,
                              disable=progress is None):
        width = length_bucket(int(lengths[chunk].max()), decoder.max_len)
        nll, count = decoder.output_nll(tokens[chunk, :width], lengths[chunk], output_start[chunk])
        nll_sum[chunk[:n_real]] = nll[:n_real]
        n_tokens[chunk[:n_real]] = count[:n_real]
    return nll_sum, n_tokens
