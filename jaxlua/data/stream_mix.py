"""The level mix of a stream's training blocks, when a curriculum sets it while the run trains.

By default train slot `i` takes level `levels[i % len(levels)]` (the levels take turns). A mastery curriculum
instead sets a mix, a weight per level, at its validation steps; `MixSchedule` turns those settings into the level
of every slot, deterministically:

- The mix of block `b` is the newest setting made at a step `<= (b - lag) * sort_window` (the initial mix before
  any). The lag lets the producer work `lag` blocks ahead of the trainer; it waits when it would get further.
- Within a block, level `l` gets `round(weight_l * block_size)` slots (largest remainders, ties to the earlier
  level), laid out in an order shuffled by `(seed, block)`.

So a block's programs are a function of the settings made before it, which a resumed run restores from its
checkpoint; never of timing.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

MIX_LAG_BLOCKS = 4  # blocks the producer may run ahead of the trainer under a changing mix


def initial_mix(num_levels: int, start: int) -> tuple[float, ...]:
    """The first blocks' mix of a curriculum that starts from the first `start` levels: those evenly, the others
    none (known before the stream opens)."""
    return tuple(1.0 if i < start else 0.0 for i in range(num_levels))


def slot_counts(weights: Sequence[float], block_size: int) -> np.ndarray:
    """Slots per level in one block: `weights` (non-negative, not all zero) scaled to `block_size`, rounded by
    largest remainders (ties to the earlier level), so the counts sum to `block_size` exactly."""
    w = np.asarray(weights, np.float64)
    if w.ndim != 1 or not len(w) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"a level mix needs non-negative, finite weights that are not all zero; got {list(weights)}")
    exact = w / w.sum() * block_size
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:block_size - counts.sum()]] += 1
    return counts


def block_levels(levels: Sequence[int], weights: Sequence[float], block: int, block_size: int,
                 seed: int) -> np.ndarray:
    """The level of each of the `block_size` slots of `block` under the mix `weights` (one per level)."""
    if len(weights) != len(levels):
        raise ValueError(f"a level mix needs one weight per level {tuple(levels)}; got {len(weights)}")
    laid = np.repeat(np.asarray(levels, np.int64), slot_counts(weights, block_size))
    return laid[np.random.default_rng([seed, 0x313C, block]).permutation(block_size)]


class MixSchedule:
    """The mix settings of a run, `(step, weights)` in step order, and the level of each train slot.

    `set(settings, consumed_step)` is called by the trainer's side before it takes batch `consumed_step`; the
    producer's `level(slot)` waits until the trainer is far enough for the slot's block to be decided (or until
    `stop` is set, then returns None).
    """

    def __init__(self, levels: Sequence[int], initial: Sequence[float], block_size: int, sort_window: int,
                 seed: int, lag: int | None = None) -> None:
        self.levels, self.initial = tuple(levels), tuple(float(w) for w in initial)
        slot_counts(self.initial, block_size)  # checks the weights
        if len(self.initial) != len(self.levels):
            raise ValueError(f"a level mix needs one weight per level {self.levels}; got {len(self.initial)}")
        self.block_size, self.sort_window, self.seed = block_size, sort_window, seed
        self.lag = MIX_LAG_BLOCKS if lag is None else lag
        self._settings: list[tuple[int, tuple[float, ...]]] = []
        self._consumed = -1  # the newest batch the trainer has asked for
        self._cond = threading.Condition()
        self._cache: tuple[int, np.ndarray] | None = None

    def set(self, settings: Sequence[Sequence], consumed_step: int) -> None:
        """Every setting made so far (`[(step, weights), ...]`, a log that only grows), and the batch the trainer
        takes next. Called before every batch, so only the settings not seen before are parsed and checked."""
        known = len(self._settings)
        if len(settings) < known or (known and self._parse(settings[known - 1]) != self._settings[-1]):
            raise ValueError("level mix settings only grow: the ones set before cannot change")
        parsed = [*self._settings, *(self._parse(setting) for setting in settings[known:])]
        tail = parsed[max(known - 1, 0):]  # the new settings and the newest one before them
        if any(b[0] < a[0] for a, b in zip(tail, tail[1:])):
            raise ValueError("level mix settings must be in step order")
        for _, weights in parsed[known:]:
            if len(weights) != len(self.levels):
                raise ValueError(f"a level mix needs one weight per level {self.levels}; got {len(weights)}")
            slot_counts(weights, self.block_size)
        with self._cond:
            self._settings = parsed
            self._consumed = max(self._consumed, consumed_step)
            self._cond.notify_all()

    @staticmethod
    def _parse(setting: Sequence) -> tuple[int, tuple[float, ...]]:
        step, weights = setting
        return int(step), tuple(float(w) for w in weights)

    def reset(self, consumed_step: int) -> None:
        """A restart at `consumed_step` (resume): the trainer is there now, whatever it asked for before."""
        with self._cond:
            self._consumed = consumed_step
            self._cache = None

    def weights(self, block: int) -> tuple[float, ...]:
        """The mix in force for `block` (the caller has made sure it is decided)."""
        cutoff = (block - self.lag) * self.sort_window
        chosen = self.initial
        for step, weights in self._settings:
            if step > cutoff:
                break
            chosen = weights
        return chosen

    def level(self, index: int, stop: threading.Event) -> int | None:
        """The level of train slot `index`; waits for the trainer (None once `stop` is set)."""
        block, offset = divmod(index, self.block_size)
        needed = (block - self.lag) * self.sort_window  # the trainer must have asked for this batch
        with self._cond:
            while self._consumed < needed:
                if stop.is_set():
                    return None
                self._cond.wait(timeout=0.1)
            if self._cache is None or self._cache[0] != block:
                self._cache = (block, block_levels(self.levels, self.weights(block), block, self.block_size,
                                                   self.seed))
            return int(self._cache[1][offset])
