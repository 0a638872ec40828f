"""Where a run's training batches come from: a fixed dataset or the program stream, behind one interface.

The loop asks a `BatchSource` for the batch of each global step (`batch(step, cstate)`) and knows nothing else
about the data: `FixedSource` draws seeded length-bucketed epochs of an encoded split through the curriculum;
`StreamSource` hands on the batches of an open `jaxlua.data.stream.ProgramStream`, fresh programs in a fixed
order. Either way the batch of a step is a function of the settings and the step alone, so a resumed run trains
on exactly the batches an uninterrupted one would have. Each source also says which widths validation batches
are padded to, how long a loss window covers every output it can produce, and its scalars for the metrics log.

`open_training_data` opens a run's data (`jaxlua.data.run_data`, NumPy side) with this process's stream state
folder (and, past one process, the exchange the processes share the stream's work over) and wraps its training
part into the matching source.
"""

from __future__ import annotations

import abc
import contextlib
import pathlib
from typing import Any, Iterator

import numpy as np

from jaxlua.data.run_data import PreparedData, longest_target, open_run_data
from jaxlua.data.stream import ProgramStream
from jaxlua.tokenize import EncodedDataset
from jaxlua.train.batching import Arrays
from jaxlua.train.config import TrainConfig
from jaxlua.train.curriculum import BatchSampler, Curriculum, CurriculumState
from jaxlua.train.distributed import stream_exchange, stream_state_dir
from jaxlua.train.mastery import MasteryRule
from jaxlua.train.step import output_span


def mastery_rule(config: TrainConfig, val: Any) -> MasteryRule:
    """The mastery curriculum of a stream run: its levels in `config.levels` order, the mean length of each
    level's validation programs, and the config's thresholds."""
    levels = config.stream_levels
    lengths = np.asarray(val.lengths, np.float64)
    val_levels = np.asarray(val.level)
    means = []
    for level in levels:
        rows = lengths[val_levels == level]
        if not len(rows):
            raise ValueError(f"the mastery curriculum needs validation programs of every level; level {level} has none")
        means.append(float(rows.mean()))
    return MasteryRule(levels, tuple(means), config.mastery_threshold, config.mastery_patience, config.mastery_floor,
                       config.mastery_start)


class BatchSource(abc.ABC):
    """The training batches of a run, by global step (see the module doc)."""

    curriculum: Curriculum
    edges: tuple[int, ...]  # widths the validation batches are padded to
    loss_window: int  # output positions per row the loss reads; covers every output this source can produce
    window_reason: str  # why `loss_window` covers every output (logged)

    @abc.abstractmethod
    def batch(self, step: int, cstate: CurriculumState) -> dict[str, np.ndarray]:
        """{tokens [B, W], lengths [B], output_start [B]} (int32) trained at global `step`."""

    def scalars(self) -> dict[str, float]:
        """Numbers about the data pipeline to log beside the loss (none by default)."""
        return {}


class FixedSource(BatchSource):
    """Seeded length-bucketed epochs of an encoded training split, through the configured curriculum."""

    def __init__(self, data: Arrays, config: TrainConfig) -> None:
        self.curriculum = Curriculum(config, data.level)
        self._sampler = BatchSampler(data, config, self.curriculum)
        self.edges = self._sampler.edges
        self.loss_window = output_span(data.lengths, data.output_start)
        self.window_reason = "the longest output of the training split"

    def batch(self, step: int, cstate: CurriculumState) -> dict[str, np.ndarray]:
        return self._sampler.batch(step, cstate)


class StreamSource(BatchSource):
    """The batches of an open program stream, consumed in step order (restarted at a step that does not follow).

    The stream's output caps bound every output: at most `max_output_chars` characters, one token per character
    at most in every tokenizer mode, plus EOS, and never more than a row of `max_len` leaves (BOS, one program
    token and SEP come first). Every batch is checked against that bound, so a program past it fails loudly
    instead of losing part of its loss.
    """

    def __init__(self, stream: ProgramStream, config: TrainConfig) -> None:
        self._stream = stream
        self._mastery = config.curriculum == "mastery"
        self.curriculum = Curriculum(config, np.asarray(stream.config.levels),
                                     mastery_rule(config, stream.val) if self._mastery else None)
        self.edges = tuple(int(w) for w in stream.widths)
        cap = longest_target(stream.config.targets, stream.config.generator)
        what = f"the longest target a streamed program can have ({cap} tokens, jaxlua.data.run_data.longest_target)"
        self.loss_window = min(cap, stream.config.max_len - 3)
        self.window_reason = (what if self.loss_window == cap
                              else f"max_len {stream.config.max_len} less BOS, SEP and one program token")
        self._batches: Iterator[dict[str, np.ndarray]] | None = None
        self._next_step = -1

    def batch(self, step: int, cstate: CurriculumState) -> dict[str, np.ndarray]:
        if self._mastery:
            self._stream.set_mix(cstate.mastery["mix"], step)
        if self._batches is None or step != self._next_step:
            self._batches = self._stream.batches(step)
        batch = next(self._batches)
        self._next_step = step + 1
        span = output_span(batch["lengths"], batch["output_start"])
        if span > self.loss_window:
            raise ValueError(f"a streamed program at step {step} has {span} output positions, more than the loss "
                             f"window of {self.loss_window} ({self.window_reason})")
        return batch

    def scalars(self) -> dict[str, float]:
        """`consumer_wait_s`: seconds this process has spent waiting for the stream's next batch."""
        return {"consumer_wait_s": float(self._stream.wait_seconds)}


def batch_source(config: TrainConfig, train: EncodedDataset | ProgramStream) -> BatchSource:
    """The source of a run's training batches from the `train` part of its data: the open stream with
    `config.stream`, else the encoded training split."""
    return StreamSource(train, config) if config.stream else FixedSource(Arrays.from_encoded(train), config)


@contextlib.contextmanager
def open_training_data(config: TrainConfig, workdir: pathlib.Path, cache_dir: pathlib.Path | None = None,
                       progress: bool = True) -> Iterator[tuple[PreparedData, BatchSource]]:
    """(the run's data, its training batch source) for the length of a `with` block; a stream keeps its key log
    in this process's state folder, shares its work with the other processes of a multi-process run, and its
    workers end with the block."""
    exchange = stream_exchange() if config.stream else None  # None for one process: the stream runs alone
    with open_run_data(config, workdir, cache_dir, progress, state_dir=stream_state_dir(workdir),
                       exchange=exchange) as data:
        yield data, batch_source(config, data.train)
