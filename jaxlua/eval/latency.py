"""One program at a time: source text -> predicted stdout, and its wall-clock latency.

This is the in-editor path the dissertation motivates (its Table 6.4 reports 9-217 ms per program):
tokenize the source, encode it as BOS program SEP, decode greedily with batch 1, and turn the output
tokens back into text. Latency is measured over that whole path, after a warmup that compiles every
prompt-length bucket used, so the numbers are steady-state and not compile time.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from jaxlua.eval.decode import Decoder, length_bucket, strip_output

SPECIAL_TOKEN_ATTRS = ("pad_id", "bos_id", "sep_id")


class _TraceTargetTokenizer:
    """A tokenizer seen through trace targets (`trace <OUT> output`): `decode_output` decodes the output part
    (`split_target`); everything else is the tokenizer's own."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)

    def decode_output(self, tokens: Sequence[str]) -> str:
        return self.tokenizer.decode_output(self.tokenizer.split_target(tokens)[1])


def target_tokenizer(tokenizer: Any, targets: str) -> Any:
    """The tokenizer to decode a model's predictions with: `tokenizer` itself for output targets; for
    "trace_output" a view whose `decode_output` keeps only the output after `<OUT>`, so every path from
    generated ids to text (evaluation, latency, prediction) scores the output alone."""
    return _TraceTargetTokenizer(tokenizer) if targets == "trace_output" else tokenizer


def output_text(tokenizer: Any, vocab: Any, ids: Sequence[int]) -> str | None:
    """Decoded stdout for generated ids (EOS already stripped); None when the tokens do not form an output.

    PAD/BOS/SEP inside a generated output carry no text and are dropped; a token sequence the tokenizer
    rejects (for instance a malformed number) gives None, which no metric counts as a match.
    """
    special = {getattr(vocab, name) for name in SPECIAL_TOKEN_ATTRS}
    tokens = vocab.decode([i for i in ids if i not in special])
    try:
        return tokenizer.decode_output(tokens)
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def encode_prompt(tokenizer: Any, vocab: Any, source: str, max_len: int) -> list[int]:
    """BOS program SEP ids for one source text; raises the tokenizer's LuaSyntaxError if it does not parse."""
    ids = [vocab.bos_id, *vocab.encode(tokenizer.program_tokens(source)), vocab.sep_id]
    if len(ids) >= max_len:
        raise ValueError(f"program is {len(ids)} tokens long with BOS/SEP; the model takes at most {max_len - 1}")
    return ids


def predict_source(decoder: Decoder, tokenizer: Any, vocab: Any, source: str, *,
                   max_new_tokens: int) -> tuple[str | None, list[int]]:
    """Greedy prediction for one program: (decoded stdout or None, generated ids without EOS)."""
    ids = encode_prompt(tokenizer, vocab, source, decoder.max_len)
    prompt = np.full((1, length_bucket(len(ids), decoder.max_len)), vocab.pad_id, dtype=np.int32)
    prompt[0, : len(ids)] = ids
    out = decoder.generate(prompt, np.array([len(ids)], dtype=np.int32), max_new_tokens=max_new_tokens)
    generated = strip_output(out[0], decoder.eos_id)
    return output_text(tokenizer, vocab, generated), generated


def timed_predict(decoder: Decoder, tokenizer: Any, vocab: Any, source: str, *,
                  max_new_tokens: int) -> tuple[str | None, float]:
    """(predicted stdout, seconds) for one program, timed from source text to text."""
    start = time.perf_counter()
    text, _ = predict_source(decoder, tokenizer, vocab, source, max_new_tokens=max_new_tokens)
    return text, time.perf_counter() - start


def measure_latency(decoder: Decoder, tokenizer: Any, vocab: Any, sources: Sequence[str], *,
                    max_new_tokens: int, warmup: bool = True) -> list[float]:
    """Seconds per program over `sources`, each alone (batch 1), after one untimed run per length bucket."""
    if warmup:
        warmed: set[int] = set()
        for source in sources:
            bucket = length_bucket(len(encode_prompt(tokenizer, vocab, source, decoder.max_len)), decoder.max_len)
            if bucket not in warmed:
                warmed.add(bucket)
                predict_source(decoder, tokenizer, vocab, source, max_new_tokens=max_new_tokens)
    return [timed_predict(decoder, tokenizer, vocab, source, max_new_tokens=max_new_tokens)[1]
            for source in sources]
