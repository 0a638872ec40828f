"""A tiny encoded dataset with the EncodedDataset layout (BOS program SEP output EOS PAD...), for train tests.

Programs are random digit strings; the "output" is the program reversed and cut to 4 tokens, so it can only
be predicted by reading the program. Ids follow the Vocabulary convention: PAD 0, BOS 1, SEP 2, EOS 3, UNK 4,
digits 5..14.
"""

from __future__ import annotations

import dataclasses

import numpy as np

PAD, BOS, SEP, EOS = 0, 1, 2, 3
VOCAB_SIZE = 15


@dataclasses.dataclass
class ToyEncoded:
    tokens: np.ndarray
    lengths: np.ndarray
    output_start: np.ndarray
    level: np.ndarray
    ids: list[str]


def toy_dataset(num_programs: int, seed: int, max_len: int = 24) -> ToyEncoded:
    """`num_programs` distinct rows; level 1, 2 or 3 by program length."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((num_programs, max_len), np.int32)
    lengths, starts, levels, seen = [], [], [], set()
    row = 0
    while row < num_programs:
        size = int(rng.integers(3, 10))
        program = tuple(int(t) for t in rng.integers(5, 15, size))
        if program in seen:
            continue
        seen.add(program)
        output = list(reversed(program))[:4]
        sequence = [BOS, *program, SEP, *output, EOS]
        tokens[row, : len(sequence)] = sequence
        lengths.append(len(sequence))
        starts.append(len(program) + 2)
        levels.append(1 if size < 5 else 2 if size < 8 else 3)
        row += 1
    return ToyEncoded(
        tokens,
        np.array(lengths, np.int32),
        np.array(starts, np.int32),
        np.array(levels, np.int32),
        [f"toy{i}" for i in range(num_programs)],
    )
