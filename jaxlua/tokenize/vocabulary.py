"""Token <-> id mapping, built from the training split only; PAD is id 0 and is never a real token."""
from __future__ import annotations

import collections
import json
import os
import pathlib
from collections.abc import Iterable, Sequence

from jaxlua.tokenize import token_names as tn

PAD, BOS, SEP, EOS, UNK = "<PAD>", "<BOS>", "<PROGRAM END>", "<EOS>", "<UNK>"
SPECIAL_TOKENS = (PAD, BOS, SEP, EOS, UNK)
# Trace targets (`trace <OUT> output`): a step, the end of the trace, a trace cut at its cap. Only vocabularies
# built for trace targets hold them (`Tokenizer.reserved_tokens(traces=True)`), placed right after
# SPECIAL_TOKENS, so the ids of the special tokens and every existing vocabulary stay as they are.
STEP, OUT, TRACE_CUT = "<STEP>", "<OUT>", "<TRACE_CUT>"
TRACE_TOKENS = (STEP, OUT, TRACE_CUT)
# Always present unless `reserved=()`: the printable characters and the structural tokens, so a literal or
# an operator absent from the training split still encodes without <UNK>.
DEFAULT_RESERVED: tuple[str, ...] = tn.PRINTABLE_CHARS + tn.STRUCTURAL_TOKENS
_FORMAT = "jaxlua.vocabulary/1"


class Vocabulary:
    """Ids 0..4 are PAD, BOS, SEP (`<PROGRAM END>`), EOS, UNK; then reserved tokens, then the rest."""

    def __init__(self, tokens: Sequence[str], settings: dict | None = None) -> None:
        """`settings`: the tokenizer settings the vocabulary was built for (`Tokenizer.settings()`), saved
        with it so a run cannot reload it under another tokenizer."""
        tokens = list(tokens)
        if tuple(tokens[:len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a vocabulary must start with {SPECIAL_TOKENS}, got {tokens[:5]}")
        if len(set(tokens)) != len(tokens):
            dupes = [t for t, c in collections.Counter(tokens).items() if c > 1]
            raise ValueError(f"duplicate tokens in vocabulary: {dupes[:10]}")
        self._tokens = tokens
        self.settings = dict(settings) if settings is not None else None
        self._ids = {token: i for i, token in enumerate(tokens)}
        self.pad_id, self.bos_id, self.sep_id, self.eos_id, self.unk_id = range(5)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1,
              reserved: Sequence[str] = DEFAULT_RESERVED, settings: dict | None = None) -> "Vocabulary":
        """Vocabulary of the tokens seen at least `min_count` times, plus `reserved`; pass train data only.
        `Tokenizer.build_vocabulary` passes the reserved tokens and settings of a tokenizer.

        Order is deterministic: specials, reserved (as given), then by decreasing count and token text.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts: collections.Counter[str] = collections.Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise TypeError("token_lists must be an iterable of token lists, not of strings")
            counts.update(tokens)
        special = set(SPECIAL_TOKENS)
        ordered = list(SPECIAL_TOKENS)
        seen = set(special)
        for token in reserved:
            if token not in seen:
                ordered.append(token)
                seen.add(token)
        frequent = sorted((t for t, c in counts.items() if c >= min_count and t not in seen),
                          key=lambda t: (-counts[t], t))
        return cls(ordered + frequent, settings=settings)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._tokens == other._tokens

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    def token_id(self, token: str) -> int:
        return self._ids.get(token, self.unk_id)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of `tokens`; unknown tokens map to UNK."""
        get, unk = self._ids.get, self.unk_id
        return [get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of `ids`; ValueError on an id outside the vocabulary."""
        table = self._tokens
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(table):
                raise ValueError(f"token id {i} outside vocabulary of size {len(table)}")
            out.append(table[i])
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (atomically)."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        data: dict = {"format": _FORMAT, "tokens": self._tokens}
        if self.settings is not None:
            data["settings"] = self.settings
        tmp.write_text(json.dumps(data, ensure_ascii=True), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike, settings: dict | None = None) -> "Vocabulary":
        """Read a vocabulary written by `save`. With `settings` (a tokenizer's `settings()`), a vocabulary
        saved with other settings is a ValueError naming both (one saved without settings is accepted)."""
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a jaxlua vocabulary file (expected format {_FORMAT})")
        saved = data.get("settings")
        if settings is not None and saved is not None and dict(saved) != dict(settings):
            raise ValueError(f"{path} was built for tokenizer settings {_describe(saved)}, "
                             f"not {_describe(settings)}")
        return cls(data["tokens"], settings=saved)


def _describe(settings: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(settings.items()))
