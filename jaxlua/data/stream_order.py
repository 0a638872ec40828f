"""The coordinator of the program stream: worker processes, and in-order acceptance without repeats.

Workers compute candidates for numbered slots in any order and at any speed; `OrderedProducer` accepts them
strictly in slot order: a candidate whose record key an earlier accepted slot already has is replaced by the
slot's next attempt. Which program fills a slot is therefore a function of the slot sequence alone, not of the
number of workers or of timing. The keys accepted so far (`SeenKeys`) are the only state; `KeyLog` keeps them
on disk so that a resumed stream need not regenerate its past to rebuild them.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import select
import subprocess
import threading
from collections.abc import Iterable, Iterator

import numpy as np

from jaxlua.data.stream_worker import Candidate, StreamError
from jaxlua.data.workers import _read_message, _write_message, start_worker
from jaxlua.workdir_files import STREAM_KEYS_FILE, STREAM_SETTINGS_FILE

_WORKER_FUNCTION = "jaxlua.data.stream_worker:handle"
TASKS_IN_FLIGHT = 2  # per worker: one being computed, one waiting in its pipe


class WorkerGroup:
    """Fresh interpreter processes (see workers.py for why not multiprocessing) answering stream messages.

    Each worker answers its messages in the order sent; several may be in flight. Workers run in their own
    session, so Ctrl-C reaches only the trainer, which closes them; a worker whose parent dies reads end of
    input and exits.
    """

    def __init__(self, count: int) -> None:
        self._procs: list[subprocess.Popen] = []
        try:
            for _ in range(count):
                self._procs.append(start_worker(_WORKER_FUNCTION, new_session=True))
        except BaseException:
            self.close()
            raise
        self._fd_worker = {p.stdout.fileno(): i for i, p in enumerate(self._procs)}
        self.in_flight: list[collections.deque] = [collections.deque() for _ in self._procs]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def __len__(self) -> int:
        return len(self._procs)

    def send(self, worker: int, message: tuple, tag: object = None) -> None:
        """Queue `message` on `worker`; its answer comes back from `receive` with `tag`."""
        try:
            _write_message(self._procs[worker].stdin.fileno(), message)
        except OSError:
            raise StreamError(f"stream worker {self._procs[worker].pid} died "
                              f"(exit code {self._procs[worker].poll()})") from None
        self.in_flight[worker].append(tag)

    def least_busy(self) -> int:
        return min(range(len(self._procs)), key=lambda w: len(self.in_flight[w]))

    def receive(self, timeout: float) -> list[tuple[object, object]]:
        """(tag, answer) of every message answered within `timeout` seconds; StreamError if a worker failed."""
        busy = [p.stdout.fileno() for w, p in enumerate(self._procs) if self.in_flight[w]]
        if not busy:
            return []
        ready, _, _ = select.select(busy, [], [], timeout)
        out = []
        for fd in ready:
            worker = self._fd_worker[fd]
            try:
                status, payload = _read_message(fd)
            except EOFError:
                raise StreamError(f"stream worker {self._procs[worker].pid} died "
                                  f"(exit code {self._procs[worker].wait()})") from None
            if status != "ok":
                raise StreamError(f"stream worker failed:\n{payload}")
            out.append((self.in_flight[worker].popleft(), payload))
        return out

    def broadcast(self, message: tuple) -> None:
        """Send `message` to every worker and wait for all the answers (setup messages)."""
        self.drain()
        for worker in range(len(self._procs)):
            self.send(worker, message)
        self.drain()

    def drain(self) -> None:
        """Wait for and drop every answer still in flight (those of a producer that was stopped)."""
        while any(self.in_flight):
            self.receive(timeout=1.0)

    def close(self) -> None:
        """Kill and reap every worker (idempotent): no process is left behind, not even a zombie."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()


class SeenKeys:
    """A set of 64-bit keys that stays compact for millions: recent keys in a set, older ones in sorted tiers."""

    _FLUSH = 1 << 16

    def __init__(self, keys: np.ndarray | list[int] = ()) -> None:
        self._recent: set[int] = set()
        initial = np.unique(np.asarray(keys, np.uint64))
        self._tiers: list[np.ndarray] = [initial] if len(initial) else []  # sorted uint64 arrays, sizes decreasing

    def __len__(self) -> int:
        return len(self._recent) + sum(len(t) for t in self._tiers)

    def __contains__(self, key: int) -> bool:
        if key in self._recent:
            return True
        value = np.uint64(key)
        for tier in self._tiers:
            i = int(np.searchsorted(tier, value))
            if i < len(tier) and tier[i] == value:
                return True
        return False

    def add(self, key: int) -> None:
        self._recent.add(key)
        if len(self._recent) >= self._FLUSH:
            merged = np.sort(np.fromiter(self._recent, np.uint64, len(self._recent)))
            self._recent.clear()
            while self._tiers and len(self._tiers[-1]) <= len(merged):
                merged = np.union1d(self._tiers.pop(), merged)
            self._tiers.append(merged)


class KeyLog:
    """The keys of the accepted train slots, in slot order, as little-endian uint64 in `<dir>/stream_keys.u64`.

    A cache: `read(n)` returns at most the first `n` keys and cuts the file there, so keys written for slots
    that a killed run produced but never trained on are dropped. The settings that decide the slot sequence
    are stored beside it; a log written under other settings is an error, never overwritten.
    """

    def __init__(self, directory: str | os.PathLike, settings: dict) -> None:
        self.path = pathlib.Path(directory) / STREAM_KEYS_FILE
        self._settings_path = self.path.parent / STREAM_SETTINGS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(settings, sort_keys=True, indent=1) + "\n"
        if self._settings_path.exists():
            if self._settings_path.read_text(encoding="utf-8") != text:
                raise ValueError(f"{self.path} was written by a stream with other settings "
                                 f"(see {self._settings_path}); use a new workdir")
        else:
            self.path.unlink(missing_ok=True)  # keys without their settings cannot be trusted
            self._settings_path.write_text(text, encoding="utf-8")
        self._file = None

    def available(self) -> int:
        """How many whole keys the file holds."""
        return (self.path.stat().st_size if self.path.exists() else 0) // 8

    def read(self, n: int) -> np.ndarray:
        """The first min(n, available) keys; the file is cut after them and opened for appending."""
        size = self.path.stat().st_size if self.path.exists() else 0
        count = min(n, size // 8)
        with open(self.path, "ab+") as f:
            f.truncate(count * 8)
            f.seek(0)
            keys = np.frombuffer(f.read(count * 8), "<u8")
        self._file = open(self.path, "ab")
        return keys

    def append(self, keys: list[int]) -> None:
        self._file.write(np.asarray(keys, "<u8").tobytes())
        self._file.flush()  # a SIGKILL loses nothing the kernel already has

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class OrderedProducer:
    """Accepts worker candidates in slot order, each with a record key unseen so far (see the module doc)."""

    def __init__(self, workers: WorkerGroup, chunk: int = 16, window: int = 512, max_attempts: int = 1000,
                 stop: threading.Event | None = None, max_window: int | None = None) -> None:
        """`window`: slots sent ahead of the first one not yet accepted (raised to keep every worker busy, but
        never past `max_window`: a level mix decides a slot's level only so far ahead of the trainer, and the
        slot iterator waits for the trainer there, which must not wait for these slots in turn)."""
        self.workers = workers
        self.window = max(window, 2 * chunk * TASKS_IN_FLIGHT * len(workers))
        if max_window is not None:
            self.window = max(1, min(self.window, max_window))
        self.chunk = min(chunk, self.window)
        self.max_attempts = max_attempts
        self.stop = stop or threading.Event()
        self.accepted: collections.Counter = collections.Counter()  # per level
        self.duplicates: collections.Counter = collections.Counter()  # per level
        self.rejected: collections.Counter = collections.Counter()  # per (level, reason)
        self.made: collections.Counter = collections.Counter()  # per level: candidates the workers computed
        self.unknown_ids = 0
        self.tokens = 0

    def common_count(self, count: int, tag: str = "") -> int:
        """`count` itself: one process agrees with itself (see `ShardedProducer.common_count`)."""
        return count

    def run(self, slots: Iterable[tuple[str, int]], seen: SeenKeys) -> Iterator[Candidate]:
        """Accepted candidates for `slots` in order; their keys are added to `seen`. Ends with `slots`, or early
        (without error) once `stop` is set."""
        slots = iter(slots)
        workers = self.workers
        workers.drain()
        pending: dict[int, tuple[str, int]] = {}  # position -> slot, for positions sent and not yet accepted
        results: dict[int, Candidate] = {}
        retries: collections.Counter = collections.Counter()
        sent = cursor = 0
        more = True
        while not self.stop.is_set():
            while more and sent < cursor + self.window:
                worker = workers.least_busy()
                if len(workers.in_flight[worker]) >= TASKS_IN_FLIGHT:
                    break
                batch = []
                for slot in slots:
                    pending[sent] = slot
                    batch.append((sent, *slot[:2], 0, *slot[2:]))  # (position, space, index, attempt[, level])
                    sent += 1
                    if len(batch) == self.chunk or sent >= cursor + self.window:
                        break
                else:
                    more = False
                if batch:
                    workers.send(worker, ("make", batch))
            while cursor in results:
                candidate = results.pop(cursor)
                if candidate.key in seen:
                    self.duplicates[candidate.level] += 1
                    retries[cursor] += 1
                    if retries[cursor] >= self.max_attempts:
                        raise StreamError(f"level {candidate.level}: no new unique program in {self.max_attempts} "
                                          f"attempts at slot {pending[cursor]}; the generator config allows too "
                                          f"few distinct programs")
                    slot = pending[cursor]
                    workers.send(workers.least_busy(), ("make", [(cursor, *slot[:2], candidate.attempt + 1, *slot[2:])]))
                    break
                seen.add(candidate.key)
                del pending[cursor]
                retries.pop(cursor, None)
                self.accepted[candidate.level] += 1
                if candidate.ids is not None:
                    self.unknown_ids += candidate.unknown
                    self.tokens += len(candidate.ids)
                cursor += 1
                yield candidate
            if not more and cursor == sent:
                return
            for _, (made, rejected) in workers.receive(timeout=0.1):
                if isinstance(made, str):
                    raise StreamError(made)
                self.rejected.update(rejected)
                for candidate in made:
                    self.made[candidate.level] += 1
                    results[candidate.position] = candidate

    def stats(self) -> dict:
        """Counts so far: accepted, raw duplicates and rejections per level, `<UNK>` share of train tokens, and
        `made`: the candidates the workers computed per level."""
        return producer_counts(self)


def producer_counts(producer) -> dict:
    """A producer's counters (`accepted`, `duplicates`, `made` per level, `rejected` per (level, reason),
    `unknown_ids` of `tokens`) as the JSON-able stats both producers report."""
    levels = sorted(set(producer.accepted) | set(producer.duplicates) | set(producer.made)
                    | {lv for lv, _ in producer.rejected})
    return {
        "accepted": {str(lv): producer.accepted[lv] for lv in levels},
        "duplicates": {str(lv): producer.duplicates[lv] for lv in levels},
        "rejected": {str(lv): {r: n for (l2, r), n in sorted(producer.rejected.items()) if l2 == lv}
                     for lv in levels},
        "unk_rate": producer.unknown_ids / producer.tokens if producer.tokens else 0.0,
        "made": {str(lv): producer.made[lv] for lv in levels},
    }
