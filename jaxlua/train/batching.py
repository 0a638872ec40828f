"""Length-bucketed batches from encoded arrays, reproducible from (seed, pool, position) alone.

A training run draws batches from *pools* (index sets: the whole train split, or one curriculum stage). Each
pool is an endless stream of epochs; epoch `e` of a pool is a pure function of `(seed, pool key, e)`: shuffle
the pool, group it into a few length buckets, cut each bucket into batches, shuffle the batch order. So the
k-th batch of a pool is known without replaying the run, which is what makes a resumed run draw exactly the
batches an uninterrupted one would have. Rows are padded to the bucket's width (a few static shapes, so few
jit compilations); a batch that is not full is completed with empty rows (length 0, no loss).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxlua.data.buckets import quantile_widths, round_up


@dataclasses.dataclass(frozen=True)
class Arrays:
    """The fields of an EncodedDataset that batching needs (int32 NumPy arrays, one row per program)."""

    tokens: np.ndarray  # [N, max_len]
    lengths: np.ndarray  # [N]
    output_start: np.ndarray  # [N]
    level: np.ndarray  # [N]

    @classmethod
    def from_encoded(cls, dataset: Any) -> "Arrays":
        """Reads the arrays of a `jaxlua.tokenize.EncodedDataset` (or anything with the same fields)."""
        arrays = cls(
            np.asarray(dataset.tokens, np.int32),
            np.asarray(dataset.lengths, np.int32),
            np.asarray(dataset.output_start, np.int32),
            np.asarray(dataset.level, np.int32),
        )
        n = arrays.tokens.shape[0]
        if arrays.tokens.ndim != 2 or any(a.shape != (n,) for a in (arrays.lengths, arrays.output_start, arrays.level)):
            raise ValueError(
                "encoded dataset arrays have inconsistent shapes: tokens "
                f"{arrays.tokens.shape}, lengths {arrays.lengths.shape}, output_start "
                f"{arrays.output_start.shape}, level {arrays.level.shape}"
            )
        if n == 0:
            raise ValueError("encoded dataset is empty: no program survived tokenization and length filtering")
        return arrays

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def subset(self, indices: np.ndarray) -> "Arrays":
        return Arrays(self.tokens[indices], self.lengths[indices], self.output_start[indices], self.level[indices])


def bucket_edges(lengths: np.ndarray, num_buckets: int, max_len: int, multiple: int = 8) -> tuple[int, ...]:
    """Bucket widths: length quantiles rounded up to `multiple`, the last one covering the longest row."""
    lengths = np.asarray(lengths)
    edges = quantile_widths(lengths, num_buckets, max_len, multiple)
    edges.add(min(max_len, round_up(int(lengths.max()), multiple)))
    return tuple(sorted(e for e in edges if e >= 2))


def make_batch(data: Arrays, indices: np.ndarray, width: int) -> dict[str, np.ndarray]:
    """Rows `indices` (-1 = empty row) cut to `width` columns: tokens [B, width], lengths, output_start [B]."""
    indices = np.asarray(indices)
    real = indices >= 0
    safe = np.where(real, indices, 0)
    tokens = np.where(real[:, None], data.tokens[safe, :width], 0).astype(np.int32)
    lengths = np.where(real, data.lengths[safe], 0).astype(np.int32)
    output_start = np.where(real, data.output_start[safe], 0).astype(np.int32)
    return {"tokens": tokens, "lengths": lengths, "output_start": output_start}


class PoolStream:
    """The endless, seed-determined sequence of bucketed batches over one pool of row indices."""

    def __init__(
        self, pool: np.ndarray, lengths: np.ndarray, edges: tuple[int, ...], batch_size: int, seed_key: tuple[int, ...]
    ):
        if len(pool) == 0:
            raise ValueError(f"batch pool {seed_key} is empty")
        self._pool = np.asarray(pool, np.int64)
        self._edges = np.asarray(edges)
        self._bucket_of = np.searchsorted(self._edges, np.asarray(lengths)[self._pool], side="left")
        if (self._bucket_of >= len(self._edges)).any():
            raise ValueError(f"a row is longer than the widest bucket ({edges[-1]})")
        self._batch_size = batch_size
        self._seed_key = tuple(int(k) for k in seed_key)
        counts = np.bincount(self._bucket_of, minlength=len(self._edges))
        self.batches_per_epoch = int(sum(-(-int(c) // batch_size) for c in counts))
        self._cached_epoch: tuple[int, list[tuple[np.ndarray, int]]] | None = None

    def _epoch(self, epoch: int) -> list[tuple[np.ndarray, int]]:
        if self._cached_epoch is not None and self._cached_epoch[0] == epoch:
            return self._cached_epoch[1]
        rng = np.random.default_rng([*self._seed_key, epoch])
        order = rng.permutation(len(self._pool))
        batches = []
        for bucket, width in enumerate(self._edges):
            members = self._pool[order[self._bucket_of[order] == bucket]]
            for start in range(0, len(members), self._batch_size):
                chunk = members[start : start + self._batch_size]
                padded = np.full(self._batch_size, -1, np.int64)
                padded[: len(chunk)] = chunk
                batches.append((padded, int(width)))
        batches = [batches[i] for i in rng.permutation(len(batches))]
        self._cached_epoch = (epoch, batches)
        return batches

    def batch(self, position: int) -> tuple[np.ndarray, int]:
        """The `position`-th batch of the stream: (row indices with -1 padding, bucket width)."""
        epoch, within = divmod(position, self.batches_per_epoch)
        return self._epoch(epoch)[within]


def eval_batches(data: Arrays, batch_size: int, edges: tuple[int, ...]) -> list[dict[str, np.ndarray]]:
    """Every row once, in order within buckets, as padded batches (for validation)."""
    bucket_of = np.searchsorted(np.asarray(edges), data.lengths, side="left")
    batches = []
    for bucket, width in enumerate(edges):
        members = np.flatnonzero(bucket_of == bucket)
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            padded = np.full(batch_size, -1, np.int64)
            padded[: len(chunk)] = chunk
            batch = make_batch(data, padded, int(width))
            batch["row"] = padded.astype(np.int32)
            batches.append(batch)
    return batches
