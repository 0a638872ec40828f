"""How the processes of a multi-process run share the candidates of a sharded program stream.

`SlotExchange` is all the stream needs: `all_gather(tag, payload)` posts this process's bytes under `tag` and
returns every process's, in process order. `KeyValueExchange` builds it on any key-value store with a blocking
get (`KeyValueStore`); the train side hands it the distributed runtime's store (jaxlua.train.distributed), and
`MemoryStore` lets threads of one process stand in for processes (tests). NumPy side: no JAX here.

Keys are `<namespace>/<tag>/<process>`; the caller makes each tag unique within its namespace. Memory stays
bounded without extra messages: calls are made one at a time, in the same order everywhere, so once a call has
every process's value, every process has finished reading the previous call's, and this process deletes its own
older keys. A process that posts nothing for `timeout_s` seconds is a StreamError naming it.
"""
from __future__ import annotations

import threading
import time
from typing import Protocol

from jaxlua.data.stream_worker import StreamError

EXCHANGE_TIMEOUT_S = 1800.0  # a peer may legitimately lag this long (its trainer compiling, evaluating, saving)
_POLL_S = 0.5  # how often a wait checks the stop flag


class SlotExchange(Protocol):
    """One process's end of an all-gather of bytes among the `process_count` processes of a run."""

    process_index: int
    process_count: int

    def all_gather(self, tag: str, payload: bytes, stop: threading.Event | None = None) -> list[bytes] | None:
        """Every process's payload for `tag`, in process order; None if `stop` was set before all arrived."""


class KeyValueStore(Protocol):
    """A key-value store every process of the run reaches."""

    def set(self, key: str, value: bytes) -> None:
        """Store `value` under a key not used before."""

    def get(self, key: str, timeout_s: float) -> bytes | None:
        """The value of `key`, waiting up to `timeout_s` seconds for it to be set; None if it was not."""

    def delete(self, key: str) -> None:
        """Drop `key` (no error if it is gone)."""


class KeyValueExchange:
    """`SlotExchange` over a `KeyValueStore` (see the module doc)."""

    def __init__(self, store: KeyValueStore, process_index: int, process_count: int, namespace: str,
                 timeout_s: float = EXCHANGE_TIMEOUT_S) -> None:
        if not 0 <= process_index < process_count:
            raise ValueError(f"process_index {process_index} is not in [0, {process_count})")
        self.store, self.namespace, self.timeout_s = store, namespace, timeout_s
        self.process_index, self.process_count = process_index, process_count
        self._mine: list[str] = []  # own keys not deleted yet, oldest first
        self._lock = threading.Lock()  # a stopped feeder thread may still be leaving while the next one starts

    def _key(self, tag: str, process: int) -> str:
        return f"{self.namespace}/{tag}/{process}"

    def all_gather(self, tag: str, payload: bytes, stop: threading.Event | None = None) -> list[bytes] | None:
        key = self._key(tag, self.process_index)
        self.store.set(key, payload)
        with self._lock:
            self._mine.append(key)
        deadline = time.monotonic() + self.timeout_s
        out = []
        for process in range(self.process_count):
            if process == self.process_index:
                out.append(payload)
                continue
            while True:
                if stop is not None and stop.is_set():
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StreamError(f"stream exchange: process {process} of {self.process_count} sent nothing "
                                      f"for {tag!r} in {self.timeout_s:g} s (it stopped, fell behind, or runs a "
                                      "stream with other settings)")
                value = self.store.get(self._key(tag, process), min(_POLL_S, left))
                if value is not None:
                    out.append(value)
                    break
        with self._lock:  # every process has read the values of the earlier calls: drop this process's own
            old, self._mine = [k for k in self._mine if k != key], [key]
        for stale in old:
            self.store.delete(stale)
        return out


class MemoryStore:
    """`KeyValueStore` in this process's memory, shared by threads that act as the processes of a run."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self._cond = threading.Condition()

    def set(self, key: str, value: bytes) -> None:
        with self._cond:
            if key in self.values:
                raise StreamError(f"stream exchange key {key!r} was set twice")
            self.values[key] = bytes(value)
            self._cond.notify_all()

    def get(self, key: str, timeout_s: float) -> bytes | None:
        with self._cond:
            self._cond.wait_for(lambda: key in self.values, timeout=timeout_s)
            return self.values.get(key)

    def delete(self, key: str) -> None:
        with self._cond:
            self.values.pop(key, None)


def memory_exchanges(count: int, namespace: str = "stream",
                     timeout_s: float = EXCHANGE_TIMEOUT_S) -> list[KeyValueExchange]:
    """The ends of one exchange among `count` threads (process 0 first), over one shared `MemoryStore`."""
    store = MemoryStore()
    return [KeyValueExchange(store, i, count, namespace, timeout_s) for i in range(count)]
