"""Batch widths from sequence lengths: the one rounding rule shared by the fixed-data sampler and the stream.

NumPy only, so the data side (the stream's workers) and the training side use the same widths formula.
"""
from __future__ import annotations

import numpy as np


def round_up(length: int, multiple: int) -> int:
    """`length` rounded up to a multiple of `multiple`."""
    return -(-int(length) // multiple) * multiple


def quantile_widths(lengths: np.ndarray, num_buckets: int, max_len: int, multiple: int = 8) -> set[int]:
    """`num_buckets` quantiles of `lengths`, each rounded up to `multiple` and capped at `max_len`."""
    quantiles = np.quantile(np.asarray(lengths), np.arange(1, num_buckets + 1) / num_buckets)
    return {min(max_len, round_up(int(np.ceil(q)), multiple)) for q in quantiles}
