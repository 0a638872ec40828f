"""The program stream past one process: each process generates only its share of every block's slots.

`ShardedProducer` is `OrderedProducer` (stream_order.py) for the processes of a multi-process run, with the same
`run(slots, seen)` and the same result: the candidates of the sequential in-order duplicate walk, so batch k is
the same function of (seed, k) as in a one-process run. Slots are taken a block at a time (a block: slots of one
space whose indices share `index // block_size`). Process p computes, with its own workers, the slots at the
offsets it owns (a contiguous share, `offset * N // len(block) == p`, so every level is spread evenly); then
every process posts its candidates (`SlotExchange.all_gather`) and all run the same walk over the whole block:
a slot collides when its key is in `seen` or an earlier slot of the block holds it. The owners of colliding
slots compute each one's next acceptable attempt, the processes exchange those, and walk again, until a walk
finds no collision; then the block is accepted in slot order.

Why that is the sequential result: a slot moves off a key only when an earlier slot holds it, and the earliest
holder of a key never moves off it (nothing before it holds the key), so a key once held before slot i stays
held before slot i. At the fixpoint, then, every attempt a slot skipped is held by an earlier slot's final
candidate (or by `seen`), and its final candidate by none: the first attempt the sequential walk accepts.

Every process ends a block holding all its candidates (and the rejection counts of all workers), so the
length sort, cut and shuffle of the stream give identical batches everywhere. While a block goes through its
rounds, the workers compute the next blocks' first rounds (`lookahead`).
"""
from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Union

import numpy as np

from jaxlua.data.stream_exchange import SlotExchange
from jaxlua.data.stream_mix import MIX_LAG_BLOCKS
from jaxlua.data.stream_order import TASKS_IN_FLIGHT, OrderedProducer, SeenKeys, WorkerGroup, producer_counts
from jaxlua.data.stream_worker import Candidate, StreamError

_HEAD = 8  # bytes of the payload's header length
Producer = Union[OrderedProducer, "ShardedProducer"]


def make_producer(workers: WorkerGroup, block_size: int, max_attempts: int, exchange: SlotExchange | None = None,
                  name: str = "train") -> Producer:
    """The stream's producer: in-order over this process's workers alone, or sharded over the processes of
    `exchange` (`name` keeps the tags of a stream's producers apart)."""
    if exchange is None or exchange.process_count == 1:
        return OrderedProducer(workers, window=2 * block_size, max_attempts=max_attempts,
                               max_window=MIX_LAG_BLOCKS * block_size)
    return ShardedProducer(workers, exchange, block_size, max_attempts=max_attempts, name=name)


def colliding(keys: list[int], seen: SeenKeys) -> list[int]:
    """Offsets of the `keys` (a block's candidates in slot order) that `seen` or an earlier one already has."""
    held: set[int] = set()
    out = []
    for offset, key in enumerate(keys):
        if key in held or key in seen:
            out.append(offset)
        else:
            held.add(key)
    return out


def encode_payload(candidates: dict[int, Candidate], rejected: collections.Counter, error: str | None) -> bytes:
    """One process's part of a round: its candidates by block offset, its workers' rejections, an error."""
    offsets = sorted(candidates)
    rows = [[o, c.attempt, c.key, c.level, c.output_start, c.unknown, -1 if c.ids is None else len(c.ids)]
            for o, c in ((o, candidates[o]) for o in offsets)]
    header = {"rows": rows, "records": [candidates[o].record for o in offsets if candidates[o].record is not None],
              "rejected": [[level, reason, n] for (level, reason), n in sorted(rejected.items())], "error": error}
    head = json.dumps(header).encode()
    ids = [candidates[o].ids for o in offsets if candidates[o].ids is not None]
    body = np.concatenate(ids).astype("<i4").tobytes() if ids else b""
    return len(head).to_bytes(_HEAD, "little") + head + body


def decode_payload(payload: bytes, first: int) -> tuple[list[tuple[int, Candidate]], list, str | None]:
    """(offset, candidate) pairs (positions counted from `first`), rejections, error: `encode_payload` undone."""
    size = int.from_bytes(payload[:_HEAD], "little")
    header = json.loads(payload[_HEAD:_HEAD + size])
    ids = np.frombuffer(payload, "<i4", offset=_HEAD + size).astype(np.int32, copy=False)
    records = iter(header["records"])
    out, start = [], 0
    for offset, attempt, key, level, output_start, unknown, length in header["rows"]:
        candidate = Candidate(first + offset, attempt, key, level, output_start=output_start, unknown=unknown)
        if length < 0:
            candidate.record = next(records)
        else:
            candidate.ids, start = ids[start:start + length], start + length
        out.append((offset, candidate))
    return out, header["rejected"], header["error"]


class _Block:
    """One block of a run: its slots, the candidates known so far and this process's part of the round."""

    def __init__(self, ordinal: int, first: int, slots: list[tuple], index: int, count: int) -> None:
        self.ordinal, self.first, self.slots = ordinal, first, slots
        self.owner = [offset * count // len(slots) for offset in range(len(slots))]
        self.mine = [offset for offset, owner in enumerate(self.owner) if owner == index]
        self.current: list[Candidate | None] = [None] * len(slots)
        self.todo = set(self.mine)  # own offsets whose candidate of this round is not in yet
        self.fresh: dict[int, Candidate] = {}  # own candidates of this round
        self.rejected: collections.Counter = collections.Counter()
        self.error: str | None = None
        self.round = 0
        self.retries: collections.Counter = collections.Counter()

    def tag(self, name: str, run: int) -> str:
        space, index = self.slots[0][:2]
        return f"{name}/run{run}/block{self.ordinal}-{space}{index}/round{self.round}"

    def task(self, offset: int, attempt: int) -> tuple:
        slot = self.slots[offset]
        return (self.first + offset, *slot[:2], attempt, *slot[2:])  # (position, space, index, attempt[, level])


class ShardedProducer:
    """Accepts candidates in slot order like `OrderedProducer`, each process computing its share (module doc)."""

    def __init__(self, workers: WorkerGroup, exchange: SlotExchange, block_size: int, chunk: int = 8,
                 max_attempts: int = 1000, lookahead: int = 2, name: str = "train",
                 stop: threading.Event | None = None) -> None:
        self.workers, self.exchange = workers, exchange
        self.block_size, self.chunk, self.max_attempts, self.lookahead = block_size, chunk, max_attempts, lookahead
        self.name = name
        self.stop = stop or threading.Event()
        self.accepted: collections.Counter = collections.Counter()  # per level, all processes' slots
        self.duplicates: collections.Counter = collections.Counter()  # per level, all processes' slots
        self.rejected: collections.Counter = collections.Counter()  # per (level, reason), all processes' workers
        self.made: collections.Counter = collections.Counter()  # per level: candidates this process's workers made
        self.unknown_ids = 0
        self.tokens = 0
        self.rounds = 0  # exchanges of block candidates, collision rounds included
        self.collision_rounds = 0
        self.exchange_wait_s = 0.0
        self._runs = 0
        self._counts = 0

    def common_count(self, count: int, tag: str = "") -> int:
        """The smallest `count` of all processes (e.g. the keys every process's log holds on resume)."""
        self._counts += 1
        values = self._gather(f"{self.name}/count{self._counts}{tag}", str(int(count)).encode())
        if values is None:
            return 0
        return min(int(v) for v in values)

    def _gather(self, tag: str, payload: bytes) -> list[bytes] | None:
        started = time.perf_counter()
        try:
            return self.exchange.all_gather(tag, payload, self.stop)
        finally:
            self.exchange_wait_s += time.perf_counter() - started

    def _blocks(self, slots: Iterable[tuple]) -> Iterator[list[tuple]]:
        """The slots in blocks; a block ends at its last index without reading further (a level mix waits)."""
        block: list[tuple] = []
        for slot in slots:
            if block and (slot[0], slot[1] // self.block_size) != (block[0][0], block[0][1] // self.block_size):
                yield block
                block = []
            block.append(slot)
            if slot[1] % self.block_size == self.block_size - 1:
                yield block
                block = []
        if block:
            yield block

    def run(self, slots: Iterable[tuple], seen: SeenKeys) -> Iterator[Candidate]:
        """Accepted candidates for `slots` in order, the same in every process; their keys are added to `seen`.
        Ends with `slots`, or early (without error) once `stop` is set."""
        run, self._runs = self._runs, self._runs + 1
        workers, me, count = self.workers, self.exchange.process_index, self.exchange.process_count
        workers.drain()
        source = self._blocks(slots)
        blocks: collections.deque[_Block] = collections.deque()  # the head goes through its rounds
        messages: collections.deque[list[tuple]] = collections.deque()  # collision retries first
        owner_of: dict[int, _Block] = {}  # message position -> its block
        position = ordinal = 0
        more = True
        while not self.stop.is_set():
            while more and len(blocks) <= self.lookahead:
                block_slots = next(source, None)
                if self.stop.is_set():
                    return
                if block_slots is None:
                    more = False
                    break
                block = _Block(ordinal, position, block_slots, me, count)
                blocks.append(block)
                tasks = [block.task(offset, 0) for offset in block.mine]
                messages.extend(tasks[i:i + self.chunk] for i in range(0, len(tasks), self.chunk))
                position, ordinal = position + len(block_slots), ordinal + 1
            if not blocks:
                return
            while messages:
                worker = workers.least_busy()
                if len(workers.in_flight[worker]) >= TASKS_IN_FLIGHT:
                    break
                message = messages.popleft()
                owner_of[message[0][0]] = next(b for b in blocks if b.first <= message[0][0] < b.first + len(b.slots))
                workers.send(worker, ("make", message), tag=message[0][0])
            head = blocks[0]
            if not head.todo:
                payloads = self._gather(head.tag(self.name, run), encode_payload(head.fresh, head.rejected, head.error))
                if payloads is None:
                    return
                if self._settle(head, payloads, seen, messages):
                    blocks.popleft()
                    for candidate in head.current:
                        seen.add(candidate.key)
                        self.accepted[candidate.level] += 1
                        if candidate.ids is not None:
                            self.unknown_ids += candidate.unknown
                            self.tokens += len(candidate.ids)
                        yield candidate
                continue
            for tag, (made, rejected) in workers.receive(timeout=0.1):
                block = owner_of.pop(tag)
                block.rejected.update({tuple(k): n for k, n in rejected.items()})
                if isinstance(made, str):  # a slot found no acceptable program: every process raises it
                    block.error = block.error or made
                    block.todo.clear()
                    continue
                for candidate in made:
                    self.made[candidate.level] += 1
                    offset = candidate.position - block.first
                    block.fresh[offset] = candidate
                    block.todo.discard(offset)

    def _settle(self, block: _Block, payloads: list[bytes], seen: SeenKeys,
                messages: collections.deque) -> bool:
        """Merge a round's payloads into `block` and walk it: True when it has no collision left; else queue
        this process's retries (ahead of other work) for the next round."""
        self.rounds += 1
        errors = []
        for process, payload in enumerate(payloads):
            rows, rejected, error = decode_payload(payload, block.first)
            self.rejected.update({(level, reason): n for level, reason, n in rejected})
            if error:
                errors.append(error)
            for offset, candidate in rows:
                if block.owner[offset] != process:
                    raise StreamError(f"stream exchange: process {process} sent slot {block.slots[offset]} of "
                                      f"process {block.owner[offset]}")
                block.current[offset] = candidate
        if errors:
            raise StreamError(errors[0])
        if any(c is None for c in block.current):
            raise StreamError(f"stream exchange: a round of {block.tag(self.name, -1)} lacks candidates")
        block.fresh, block.rejected = {}, collections.Counter()
        collisions = colliding([c.key for c in block.current], seen)
        if not collisions:
            return True
        self.collision_rounds += 1
        block.round += 1
        retries = []
        for offset in collisions:
            candidate = block.current[offset]
            self.duplicates[candidate.level] += 1
            block.retries[offset] += 1
            if block.retries[offset] >= self.max_attempts:
                raise StreamError(f"level {candidate.level}: no new unique program in {self.max_attempts} attempts "
                                  f"at slot {block.slots[offset]}; the generator config allows too few distinct "
                                  f"programs")
            if block.owner[offset] == self.exchange.process_index:
                retries.append(block.task(offset, candidate.attempt + 1))
        block.todo = {task[0] - block.first for task in retries}
        messages.extendleft([task] for task in reversed(retries))
        return False

    def stats(self) -> dict:
        """`OrderedProducer.stats` (counted over every process's slots), plus `made`: the candidates this
        process's workers computed per level, and the exchange's rounds and waiting time."""
        return {
            **producer_counts(self),
            "exchange_rounds": self.rounds, "collision_rounds": self.collision_rounds,
            "exchange_wait_s": self.exchange_wait_s,
        }
