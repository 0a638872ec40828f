"""An in-process stand-in for `jaxlua.data.stream_order.WorkerGroup`, for the producers' tests."""
import collections
import random

import numpy as np

from jaxlua.data.stream_worker import Candidate, program_seed


class FakeWorkers:
    """Answers in a shuffled order; keys come from a space of `keys`. With `reject_multiple`, attempts whose
    seed is a multiple of it are rejected (as a program failing in Lua); `fail` slots find no program at all."""

    def __init__(self, count, keys, seed, fail=(), reject_multiple=None):
        self.in_flight = [collections.deque() for _ in range(count)]
        self._rng, self._keys, self._fail = random.Random(seed), keys, set(fail)
        self._reject = reject_multiple

    def __len__(self):
        return len(self.in_flight)

    def drain(self):
        while any(self.in_flight):
            self.receive(0)

    def least_busy(self):
        return min(range(len(self)), key=lambda w: len(self.in_flight[w]))

    def send(self, worker, message, tag=None):
        self.in_flight[worker].append((tag, message))

    def receive(self, timeout):
        busy = [w for w in range(len(self)) if self.in_flight[w]]
        if not busy:
            return []
        tag, (_, slots) = self.in_flight[self._rng.choice(busy)].popleft()
        made, rejected = [], collections.Counter()
        for position, space, index, attempt in slots:
            if index in self._fail:
                return [(tag, (f"no acceptable program for slot {index}", dict(rejected)))]
            while self._reject and program_seed(0, space, index, attempt) % self._reject == 0:
                rejected[4, "lua"] += 1
                attempt += 1
            key = program_seed(0, space, index, attempt) % self._keys
            made.append(Candidate(position, attempt, key, 4, ids=np.array([1, key, 2], np.int32)))
        return [(tag, (made, dict(rejected)))]
