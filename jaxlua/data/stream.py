"""Fresh programs every step: a stream of training batches generated, verified in Lua and encoded as it trains.

`open_stream(config, tokenizer)` is what a training loop calls. It returns a `ProgramStream` with the fixed
vocabulary, fixed validation and test sets (`heldout_per_level` seeded programs per level each, from seed spaces
of their own), and `batches(start_step)`, the endless iterator of training batches from that step on; `close()`
ends the worker processes.

Determinism: train slot `i` holds a program of level `levels[i % len(levels)]` (or, with `initial_mix`, the level
the mix schedule gives it: stream_mix.py), drawn from a seed derived from
`(seed, i, attempt)` (stream_worker.py); a slot whose program fails in Lua, does not fit `max_len`, is held out
or repeats an earlier slot's record key takes the next attempt (stream_order.py). Block `b` is slots
`[b * block_size, (b + 1) * block_size)`, sorted by length (then slot) and cut into `sort_window` batches of
`batch_size`, whose order is shuffled by `(seed, b)`. So batch `k` depends only on the settings and `k`, never on
the number of workers or on timing, and a resumed run needs only its step; no program is seen twice within a
run, and none has the record key of a held-out program. Each batch is padded to the narrowest of a few fixed
widths (`stream_widths`: validation-length quantiles, doublings, `max_len`), so a jit step sees few shapes.

Workers are separate interpreter processes; a background thread accepts their candidates in order and fills a
bounded queue of ready batches, so the trainer takes a finished batch whenever it asks for one. Given the
`exchange` of a multi-process run, each process's workers make only its share of every block and the processes
trade candidates (stream_shard.py); every process still gets every batch and keeps every key in its key log.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
from absl import logging
from tqdm import tqdm

from jaxlua.data.buckets import quantile_widths
from jaxlua.data.stream_mix import MixSchedule, slot_counts
from jaxlua.data.stream_exchange import SlotExchange
from jaxlua.data.stream_order import KeyLog, SeenKeys, WorkerGroup
from jaxlua.data.stream_shard import Producer, make_producer
from jaxlua.data.stream_worker import Candidate, MakerSettings, StreamError
from jaxlua.lua.generator import GENERATOR_VERSION, GeneratorConfig
from jaxlua.tokenize import EncodedDataset, LuaSyntaxError, Tokenizer, Vocabulary, encode_dataset

__all__ = ["ProgramStream", "StreamConfig", "StreamError", "open_stream", "stream_widths", "tokenizer_settings"]
_FORMAT = "jaxlua.stream/1"  # part of the stream's definition: bump when slot seeds, levels or order change
_WIDTH_MULTIPLE = 8


def default_stream_workers() -> int:
    """Half the usable cores (at least 1, at most 4): the trainer keeps the rest."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores // 2))


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    """Everything that decides a stream's batches (and, for `workers`/`buffer_batches`, only its speed).

    A run builds it from its validated `TrainConfig` (`jaxlua.data.run_data.stream_config`), which checks the
    settings the two share (levels, seed, batch_size, max_len, num_buckets, heldout_per_level, targets); this
    class checks only the ones the stream alone holds.
    """

    levels: tuple[int, ...] = (4, 5, 6, 7)
    seed: int = 0
    batch_size: int = 32
    max_len: int = 512
    num_buckets: int = 4  # batch widths: this many validation-length quantiles, plus max_len
    sort_window: int = 8  # batches per block; a block is sorted by length before it is cut into batches
    heldout_per_level: int = 500  # programs per level in each of the validation and test sets
    vocab_per_level: int = 1000  # stream-like programs per level the vocabulary is built from (with validation)
    generator: GeneratorConfig = dataclasses.field(default_factory=GeneratorConfig)
    max_attempts: int = 1000  # attempts at one slot before the stream gives up on its level
    # Empty: train slots take the levels in turn. Else one weight per level: the first blocks' level mix, which a
    # curriculum then changes with `ProgramStream.set_mix` (stream_mix.py); the trainer must call it every batch.
    initial_mix: tuple[float, ...] = ()
    workers: int = dataclasses.field(default_factory=default_stream_workers)
    buffer_batches: int = 64  # ready batches kept ahead of the trainer
    targets: str = "output"  # "trace_output": records hold their execution trace, written before the output

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "initial_mix", tuple(float(w) for w in self.initial_mix))
        self.validate()

    def validate(self) -> None:
        """ValueError, one line naming the bad stream-only setting (see the class doc for the shared ones)."""
        for name in ("sort_window", "max_attempts", "workers", "buffer_batches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"stream {name} must be a positive int, got {value!r}")
        if not isinstance(self.vocab_per_level, int) or self.vocab_per_level < 0:
            raise ValueError(f"stream vocab_per_level must be an int >= 0, got {self.vocab_per_level!r}")
        if self.initial_mix:
            if len(self.initial_mix) != len(self.levels):
                raise ValueError(f"stream initial_mix needs one weight per level {self.levels}, "
                                 f"got {self.initial_mix!r}")
            slot_counts(self.initial_mix, self.block_size)  # non-negative, finite, not all zero
        if not isinstance(self.generator, GeneratorConfig):
            raise ValueError(f"stream generator must be a GeneratorConfig, got {type(self.generator).__name__}")

    @property
    def block_size(self) -> int:
        """Programs per sorted block."""
        return self.sort_window * self.batch_size


def tokenizer_settings(tokenizer: Tokenizer | dict | None) -> dict:
    """Keyword arguments that rebuild `tokenizer` in a worker: a dict as given, else the tokenizer's own."""
    if tokenizer is None:
        return tokenizer_settings(Tokenizer())
    if isinstance(tokenizer, dict):
        Tokenizer(**tokenizer)  # bad settings fail here, in the caller, with the tokenizer's own message
        return dict(tokenizer)
    settings = getattr(tokenizer, "settings", None)
    return dict(settings() if callable(settings) else tokenizer.config)


def stream_widths(lengths: np.ndarray, num_buckets: int, max_len: int) -> tuple[int, ...]:
    """Batch widths: `num_buckets` quantiles of `lengths` rounded up to a multiple of 8, then doublings of the
    widest up to `max_len` (streamed programs may be longer than any in `lengths`), and `max_len`."""
    widths = quantile_widths(lengths, num_buckets, max_len, _WIDTH_MULTIPLE)
    widest = max(widths)
    while 2 * widest < max_len:
        widest *= 2
        widths.add(widest)
    return tuple(sorted(widths | {max_len}))


def block_batches(candidates: list, block: int, config: StreamConfig, widths: tuple[int, ...],
                  pad_id: int) -> list[dict[str, np.ndarray]]:
    """The `sort_window` batches of one block, in training order (see the module doc)."""
    lengths = np.array([len(c.ids) for c in candidates])
    order = np.argsort(lengths, kind="stable")  # candidates are in slot order: ties keep it
    batches = []
    for start in range(0, len(order), config.batch_size):
        rows = [candidates[i] for i in order[start:start + config.batch_size]]
        width = widths[int(np.searchsorted(widths, max(len(r.ids) for r in rows)))]
        tokens = np.full((len(rows), width), pad_id, np.int32)
        for row, candidate in enumerate(rows):
            tokens[row, :len(candidate.ids)] = candidate.ids
        batches.append({"tokens": tokens,
                        "lengths": np.array([len(r.ids) for r in rows], np.int32),
                        "output_start": np.array([r.output_start for r in rows], np.int32)})
    permutation = np.random.default_rng([config.seed, 0x5712EA, block]).permutation(len(batches))
    return [batches[i] for i in permutation]


class ProgramStream:
    """An open stream: vocabulary, held-out sets, `batches(start_step)`, `stats()`, `close()` (see module doc)."""

    def __init__(self, config: StreamConfig, tokenizer: Tokenizer, vocab: Vocabulary, workers: WorkerGroup,
                 producer: Producer, heldout: dict[str, list[dict]], state_dir: str | os.PathLike | None,
                 progress: bool) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.val_records, self.test_records = heldout["val"], heldout["test"]
        self.val = self._encode("val", self.val_records)
        self.test = self._encode("test", self.test_records)
        self.widths = stream_widths(self.val.lengths, config.num_buckets, config.max_len)
        self._workers, self._producer = workers, producer
        weakref.finalize(self, workers.close)  # an unclosed stream still reaps its workers (at exit at the latest)
        self._state_dir, self._progress = state_dir, progress
        self._thread: threading.Thread | None = None
        self.wait_seconds = 0.0  # time `batches` spent waiting for the producer
        self.feeder_cpu_s = 0.0  # CPU time of the producer thread, which runs in the trainer's process
        self.regenerated = 0  # programs the last `batches` call regenerated to rebuild its seen keys
        self._mix = (MixSchedule(config.levels, config.initial_mix, config.block_size, config.sort_window,
                                 config.seed) if config.initial_mix else None)
        self.info = {
            "source": "stream", "format": _FORMAT, "settings": self.program_settings(),
            "batch_size": config.batch_size, "sort_window": config.sort_window, "widths": list(self.widths),
            "vocab_size": len(vocab), "sizes": {"val": len(self.val), "test": len(self.test)},
            "heldout_fingerprint": _fingerprint([r["id"] for r in self.val_records + self.test_records]),
        }

    def _encode(self, split: str, records: list[dict]) -> EncodedDataset:
        encoded = encode_dataset(records, self.tokenizer, self.vocab, self.config.max_len, targets=self.config.targets)
        if len(encoded) != len(records):  # the workers applied the same length rule: cannot happen
            raise StreamError(f"{len(records) - len(encoded)} {split} programs did not encode: {encoded.report}")
        return encoded

    def program_settings(self) -> dict:
        """What decides which program fills each train slot (keys a `KeyLog`)."""
        c = self.config
        settings = {"format": _FORMAT, "generator_version": GENERATOR_VERSION, "seed": c.seed,
                    "levels": list(c.levels), "max_len": c.max_len, "heldout_per_level": c.heldout_per_level,
                    "max_attempts": c.max_attempts, "generator": dataclasses.asdict(c.generator),
                    "tokenizer": tokenizer_settings(self.tokenizer)}
        if c.initial_mix:
            settings["initial_mix"] = list(c.initial_mix)
        if c.targets != "output":
            settings["targets"] = c.targets
        return settings

    def set_mix(self, settings: list, step: int) -> None:
        """The level-mix settings `[(step, weights), ...]` made so far; called before taking batch `step`
        (needed, and allowed, only when the stream has an `initial_mix`)."""
        if self._mix is None:
            raise StreamError("this stream's levels take turns (no initial_mix): it has no level mix to set")
        self._mix.set(settings, step)

    def _train_slots(self, first: int) -> Iterator[tuple]:
        """Train slots from `first` on: `("train", i)`, or with a level mix `("train", i, level)`."""
        for index in itertools.count(first):
            if self._mix is None:
                yield "train", index
                continue
            level = self._mix.level(index, self._producer.stop)
            if level is None:
                return  # stopping
            yield "train", index, level

    def batches(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
        """Batch `start_step`, then the next ones, forever: {tokens int32 [B, W], lengths, output_start int32 [B]}.

        Starting again stops the previous iterator. Resuming at step k with the `state_dir` of the first run
        reads the keys of the slots before k from its key log; without it they are regenerated first.
        """
        if not isinstance(start_step, int) or start_step < 0:
            raise ValueError(f"start_step must be an int >= 0, got {start_step!r}")
        if self._workers is None:
            raise StreamError("the stream is closed")
        self._stop_feeder()
        if self._mix is not None:
            self._mix.reset(start_step)
        log = KeyLog(self._state_dir, self.program_settings()) if self._state_dir is not None else None
        self._producer.stop.clear()
        q: queue.Queue = queue.Queue(maxsize=self.config.buffer_batches)
        self._thread = threading.Thread(target=self._feed, args=(start_step, q, log), name="jaxlua-stream",
                                        daemon=True)
        self._thread.start()
        return self._consume(q, self._thread)

    def _consume(self, q: queue.Queue, thread: threading.Thread) -> Iterator[dict[str, np.ndarray]]:
        while True:
            started = time.perf_counter()
            while True:
                try:
                    item = q.get(timeout=0.5)
                    break
                except queue.Empty:
                    if not thread.is_alive() and q.empty():
                        raise StreamError("the stream's producer stopped (the stream was restarted or closed)")
            self.wait_seconds += time.perf_counter() - started
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, q: queue.Queue, item: object) -> bool:
        """Put `item`, waiting for room; False once the stream is stopping."""
        while not self._producer.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _feed(self, start_step: int, q: queue.Queue, log: KeyLog | None) -> None:
        """Producer thread: rebuild the seen keys of the slots before the start block, then fill `q` in order."""
        config = self.config
        block0, skip = divmod(start_step, config.sort_window)
        before = block0 * config.block_size
        cpu_start = time.thread_time() - self.feeder_cpu_s
        try:
            common = self._producer.common_count(min(before, log.available()) if log is not None else 0,
                                                 f"start{start_step}")  # every process starts at the same slot
            known = log.read(common) if log is not None else np.zeros(0, np.uint64)
            seen = SeenKeys(known)
            accepted = self._producer.run(self._train_slots(len(known)), seen)
            self.regenerated = before - len(known)
            if len(known) < before:
                logging.info("stream: regenerating %d earlier programs to resume at step %d", before - len(known),
                             start_step)
            with tqdm(total=before - len(known), desc="stream resume", unit="prog",
                      disable=not self._progress or len(known) == before) as bar:
                for start in range(len(known), before, config.block_size):
                    count = min(config.block_size, before - start)
                    keys = [c.key for c in itertools.islice(accepted, count)]
                    if len(keys) < count:
                        return  # stopped
                    if log is not None:
                        log.append(keys)
                    bar.update(len(keys))
            for block in itertools.count(block0):
                candidates = list(itertools.islice(accepted, config.block_size))
                if len(candidates) < config.block_size:
                    return  # stopped
                if log is not None:
                    log.append([c.key for c in candidates])
                batches = block_batches(candidates, block, config, self.widths, self.vocab.pad_id)
                self.feeder_cpu_s = time.thread_time() - cpu_start
                for batch in batches[skip if block == block0 else 0:]:
                    if not self._put(q, batch):
                        return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(q, exc)
        finally:
            if log is not None:
                log.close()

    def stats(self) -> dict:
        """Producer counts (accepted, raw duplicates, rejections per level; `<UNK>` share), the trainer's time
        spent waiting for batches and the producer thread's CPU time (both in the trainer's process)."""
        return {**self._producer.stats(), "consumer_wait_s": self.wait_seconds, "feeder_cpu_s": self.feeder_cpu_s}

    def _stop_feeder(self) -> None:
        if self._thread is not None:
            self._producer.stop.set()
            self._thread.join(timeout=10)  # it checks the flag at least every 0.1 s
            self._thread = None

    def close(self) -> None:
        """Stop the producer thread and kill the workers (idempotent)."""
        self._stop_feeder()
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    @property
    def worker_pids(self) -> list[int]:
        return self._workers.pids if self._workers is not None else []

    def __enter__(self) -> "ProgramStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _fingerprint(ids: list[str]) -> str:
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]


def _generate(producer: Producer, slots: list[tuple[str, int]], desc: str, progress: bool) -> list[Candidate]:
    """Candidates (with records) of finite `slots`, de-duplicated among themselves, in slot order."""
    return list(tqdm(producer.run(slots, SeenKeys()), total=len(slots), desc=desc, unit="prog", disable=not progress))


def open_stream(config: StreamConfig, tokenizer: Tokenizer | dict | None = None, *,
                vocab: Vocabulary | None = None, state_dir: str | os.PathLike | None = None,
                progress: bool = True, exchange: SlotExchange | None = None) -> ProgramStream:
    """Start the workers, generate the held-out sets and the vocabulary, and return the open stream.

    `tokenizer`: a Tokenizer or its settings dict (default: the default tokenizer). `vocab`: reuse a saved
    vocabulary (a resumed run); otherwise it is built from the validation set plus `vocab_per_level` programs
    per level from a seed space of its own, and the tokenizer's reserved tokens (`Tokenizer.reserved_tokens`:
    every printable character and, for canonical identifiers, every standard-library name and v1..v64).
    `state_dir`: where the key log lives (the run's workdir), so resuming needs no regeneration. `exchange`:
    this process's end of a multi-process run's exchange, whose processes then share the work (module doc).
    """
    if not isinstance(config, StreamConfig):
        raise TypeError(f"config must be a StreamConfig, got {type(config).__name__}")
    settings = tokenizer_settings(tokenizer)
    tokenizer = Tokenizer(**settings)
    workers = WorkerGroup(config.workers)
    # Exchange tags carry what decides the slots: processes whose settings differ never read each other's.
    scope = _fingerprint([repr(dataclasses.replace(config, workers=1, buffer_batches=1)), settings, vocab is None])
    try:
        workers.broadcast(("init", MakerSettings(config.seed, config.levels, config.max_len, config.generator,
                                                 settings, config.max_attempts, config.targets)))
        producer = make_producer(workers, config.block_size, config.max_attempts, exchange, f"{scope}/setup")
        count = config.heldout_per_level * len(config.levels)
        heldout_slots = [("val", i) for i in range(count)] + [("test", i) for i in range(count)]
        made = _generate(producer, heldout_slots, "held-out programs", progress)  # val and test are disjoint
        heldout = {"val": [c.record for c in made[:count]], "test": [c.record for c in made[count:]]}
        if vocab is None:
            sample = _generate(producer, [("vocab", i) for i in range(config.vocab_per_level * len(config.levels))],
                               "vocabulary sample", progress)
            traced = config.targets == "trace_output"
            records = heldout["val"] + [c.record for c in sample]
            vocab = tokenizer.build_vocabulary(token_lists(tokenizer, records, traced), traces=traced)
        keys = np.array(sorted(c.key for c in made), np.uint64)
        workers.broadcast(("train_inputs", vocab.tokens, keys))
        producer = make_producer(workers, config.block_size, config.max_attempts, exchange, f"{scope}/train")
        stream = ProgramStream(config, tokenizer, vocab, workers, producer, heldout, state_dir, progress)
    except BaseException:
        workers.close()
        raise
    logging.info("stream: levels %s, %d validation and %d test programs, vocabulary of %d tokens, widths %s, "
                 "%d workers", config.levels, len(stream.val), len(stream.test), len(vocab), stream.widths,
                 config.workers)
    return stream


def token_lists(tokenizer: Tokenizer, records: list[dict], traces: bool = False) -> Iterator[list[str]]:
    """The program and output tokens of `records` (and, with `traces`, their trace tokens), which a vocabulary is
    built from; a program that does not parse is skipped."""
    for record in records:
        try:
            yield tokenizer.program_tokens(record["source"])
        except LuaSyntaxError:
            continue
        yield tokenizer.output_tokens(record["stdout"])
        if traces:
            yield tokenizer.trace_tokens(record["trace"], record["source"])
