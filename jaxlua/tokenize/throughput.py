"""Tokenization speed, measured the way results/README.md reports it: one process, CPU time, best of a few passes."""
from __future__ import annotations

import time
from collections.abc import Sequence

from jaxlua.tokenize.errors import LuaSyntaxError
from jaxlua.tokenize.tokenizer import Tokenizer


def tokenization_throughput(records: Sequence[dict], tokenizer: Tokenizer | None = None,
                            repeats: int = 3) -> dict:
    """Programs per CPU-second for `program_tokens` + `output_tokens` over `records` (source, stdout).

    CPU time (`time.process_time`) rather than wall time, so other processes on a shared machine distort
    the figure less; the best of `repeats` passes is reported.
    """
    if not records:
        raise ValueError("tokenization_throughput needs at least one record")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    tokenizer = tokenizer or Tokenizer()
    pairs = [(r["source"], r["stdout"]) for r in records]
    best = float("inf")
    program_tokens = output_tokens = errors = 0
    for _ in range(repeats):
        program_tokens = output_tokens = errors = 0
        start = time.process_time()
        for source, stdout in pairs:
            try:
                program_tokens += len(tokenizer.program_tokens(source))
            except LuaSyntaxError:
                errors += 1
            output_tokens += len(tokenizer.output_tokens(stdout))
        best = min(best, time.process_time() - start)
    best = max(best, 1e-9)
    return {
        "mode": tokenizer.mode,
        "settings": tokenizer.settings(),
        "programs": len(pairs),
        "programs_per_s": len(pairs) / best,
        "mean_program_chars": sum(len(s) for s, _ in pairs) / len(pairs),
        "mean_program_tokens": program_tokens / len(pairs),
        "mean_output_tokens": output_tokens / len(pairs),
        "syntax_errors": errors,
    }
