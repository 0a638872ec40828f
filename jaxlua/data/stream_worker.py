"""Worker side of the program stream: a numbered program slot -> its first acceptable candidate.

A slot is `(space, index)`, or `(space, index, level)` when a level mix chose its level: `space` names a seed
space ("train" for the stream itself; "val", "test" for the held-out sets; "vocab" for the vocabulary sample) and
`index` numbers the slot within it. Attempt `a` of a slot is
`ProgramGenerator(program_seed(seed, space, index, a), config).sample(level)` with the level given or picked by
the index, so a candidate is a pure function of its slot and attempt, wherever it is computed. A candidate that
fails in Lua, prints too much, does not fit `max_len` or has the record hash of a held-out program is replaced
by the next attempt, here in the worker; duplicates of earlier slots are the coordinator's business, because
only it sees the slots in order.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib

import numpy as np
from absl import logging

from jaxlua.data.traces import trace_fields
from jaxlua.data.writer import make_record
from jaxlua.lua.generator import GeneratorConfig, ProgramGenerator
from jaxlua.lua.sandbox import LuaSandbox
from jaxlua.tokenize import SPECIAL_TOKENS, Tokenizer, Vocabulary, encode_dataset

SPACES = ("train", "val", "test", "vocab")
REJECT_REASONS = ("lua", "heldout", "too_long", "syntax")
_ENCODE_REASONS = {"dropped_too_long": "too_long", "dropped_program_too_long": "too_long",
                   "dropped_syntax_error": "syntax"}


class StreamError(RuntimeError):
    """The stream cannot go on (a level ran out of new programs, a worker died); the message says which."""


def program_seed(seed: int, space: str, index: int, attempt: int) -> int:
    """The 63-bit generator seed of one attempt at one slot, stable across machines and Python versions."""
    digest = hashlib.sha256(f"jaxlua-stream:{seed}:{space}:{index}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def record_key(digest: str) -> int:
    """The 64-bit key of a record hash (`jaxlua.data.record_hash`) that de-duplication compares."""
    return int(digest[:16], 16)


def level_of(levels: tuple[int, ...], index: int) -> int:
    """Slot `index` of any space draws a program of this level: the levels take turns."""
    return levels[index % len(levels)]


@dataclasses.dataclass(frozen=True)
class MakerSettings:
    """What a worker needs to turn slots into candidates (sent once, pickled)."""

    seed: int
    levels: tuple[int, ...]
    max_len: int
    generator: GeneratorConfig
    tokenizer: dict
    max_attempts: int
    targets: str = "output"  # "trace_output": run with the trace on, store it in the record, encode it


@dataclasses.dataclass
class Candidate:
    """One acceptable program for the slot at `position` of the coordinator's ordered sequence."""

    position: int
    attempt: int
    key: int
    level: int
    record: dict | None = None  # held-out and vocabulary slots: the record itself
    ids: np.ndarray | None = None  # train slots: the encoded sequence BOS..EOS (int32)
    output_start: int = 0
    unknown: int = 0  # <UNK> ids in `ids`


class ProgramMaker:
    """Generates, verifies in Lua, filters and encodes candidates; one sandbox and tokenizer per process."""

    def __init__(self, settings: MakerSettings) -> None:
        self.settings = settings
        self._sandbox = LuaSandbox()
        self._tokenizer = Tokenizer(**settings.tokenizer)
        self._length_vocab = Vocabulary(list(SPECIAL_TOKENS))  # encodes to the right length, ids unused
        self._vocab: Vocabulary | None = None
        self._heldout: frozenset[int] = frozenset()

    def set_train_inputs(self, vocab_tokens: list[str], heldout_keys: np.ndarray) -> None:
        """The vocabulary train slots are encoded with, and the keys no train slot may have."""
        self._vocab = Vocabulary(vocab_tokens)
        self._heldout = frozenset(int(k) for k in heldout_keys)

    def make(self, position: int, space: str, index: int, attempt: int, level: int | None = None, *,
             rejected: collections.Counter) -> Candidate | str:
        """The first acceptable candidate from `attempt` on; rejections are counted by (level, reason).

        `level`: the slot's level when the coordinator chose it (a level mix), else the levels take turns.
        Returns a one-line error message instead when `max_attempts` attempts in a row are rejected.
        """
        s = self.settings
        level = level_of(s.levels, index) if level is None else int(level)
        if level not in s.levels:
            raise ValueError(f"slot level {level} is not one of the stream's levels {s.levels}")
        train = space == "train"
        if train and self._vocab is None:
            raise RuntimeError("train slots requested before the vocabulary was sent")
        vocab = self._vocab if train else self._length_vocab
        traced = s.targets == "trace_output"
        for attempt in range(attempt, attempt + s.max_attempts):
            generator = ProgramGenerator(program_seed(s.seed, space, index, attempt), s.generator)
            source = generator.sample(level)
            result = self._sandbox.run(source, max_steps=s.generator.max_steps, trace=traced)
            if result.status != "ok" or not generator.acceptable_output(result.stdout):
                rejected[level, "lua"] += 1
                continue
            digest, record = make_record(source, result.stdout, level, result.steps)
            if traced:
                record.update(trace_fields(result))
            key = record_key(digest)
            if train and key in self._heldout:
                rejected[level, "heldout"] += 1
                continue
            encoded = encode_dataset([record], self._tokenizer, vocab, s.max_len, targets=s.targets)
            if len(encoded) == 0:
                reason = next(r for k, r in _ENCODE_REASONS.items() if encoded.report[k])
                rejected[level, reason] += 1
                continue
            if not train:
                return Candidate(position, attempt, key, level, record=record)
            ids = encoded.tokens[0, :encoded.lengths[0]].copy()
            return Candidate(position, attempt, key, level, ids=ids, output_start=int(encoded.output_start[0]),
                             unknown=int(np.count_nonzero(ids == vocab.unk_id)))
        return (f"level {level}: no acceptable program for {space} slot {index} in {s.max_attempts} attempts "
                f"(failed in Lua, too long for max_len={s.max_len} or held out); loosen the generator config")


_MAKER: ProgramMaker | None = None


def handle(task: tuple) -> object:
    """A worker's answer to one message from the coordinator (run by `jaxlua.data.workers.serve`).

    ("init", MakerSettings) -> None; ("train_inputs", vocab tokens, held-out keys) -> None;
    ("make", [(position, space, index, attempt), ...]) -> (candidates or error message, rejection counts).
    """
    global _MAKER
    kind = task[0]
    if kind == "init":
        logging.set_verbosity(logging.WARNING)
        _MAKER = ProgramMaker(task[1])
        return None
    if _MAKER is None:
        raise RuntimeError(f"stream worker got {kind!r} before 'init'")
    if kind == "train_inputs":
        _MAKER.set_train_inputs(task[1], task[2])
        return None
    if kind == "make":
        rejected: collections.Counter = collections.Counter()
        out = []
        for slot in task[1]:
            made = _MAKER.make(*slot, rejected=rejected)
            if isinstance(made, str):
                return made, dict(rejected)
            out.append(made)
        return out, dict(rejected)
    raise ValueError(f"unknown stream worker message {kind!r}")
