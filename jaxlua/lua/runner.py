"""`run_lua`: run untrusted Lua in a persistent worker process that is killed and replaced on timeout.

The worker (`python -m jaxlua.lua.worker`) holds one `LuaSandbox` and answers requests over a pipe, so a
call costs a pipe round trip, not a process start. The wall-clock limit is enforced here, in the caller:
it also stops time spent inside C library functions, which the in-Lua instruction hook cannot interrupt.
A hostile program therefore never hangs or crashes the caller. Arguments are checked before anything runs
(one `ValueError` line): limits are ints in 1..2**62, `timeout` a finite number of seconds > 0, the source
encodable as UTF-8 (no lone surrogates).
"""
from __future__ import annotations

import atexit
import itertools
import math
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time

from jaxlua.lua.sandbox import (DEFAULT_MAX_MEMORY, DEFAULT_MAX_OUTPUT, DEFAULT_MAX_STEPS, DEFAULT_TIMEOUT,
                                LuaResult, check_limits, encode_source)
from jaxlua.lua.trace import DEFAULT_MAX_TRACE_STEPS

_HEADER = struct.Struct("<I")
_STARTUP_TIMEOUT = 60.0
_MAX_WAIT = 60.0  # longest single wait on the pipe; longer timeouts wait in several rounds
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _WorkerDied(Exception):
    pass


class SandboxWorker:
    """Client of one worker process; restarts it after a timeout or crash, and after a fork."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen([sys.executable, "-m", "jaxlua.lua.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env, bufsize=0, close_fds=True)
        self._pid = os.getpid()
        ready = self._read_exact(1, time.monotonic() + _STARTUP_TIMEOUT)
        if ready != b"R":
            raise RuntimeError("Lua sandbox worker failed to start")

    def close(self) -> None:
        """Kill the worker process (a later call starts a new one)."""
        proc, self._proc = self._proc, None
        if proc is not None and self._pid == os.getpid():
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                stream.close()

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        """Read n bytes from the worker, or None if the deadline passes first."""
        fd = self._proc.stdout.fileno()
        chunks, missing = [], n
        while missing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not select.select([fd], [], [], min(remaining, _MAX_WAIT))[0]:
                continue
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise _WorkerDied(f"exit code {self._proc.wait()}")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def run(self, source: str, max_steps: int, max_memory: int, max_output: int, timeout: float,
            trace: bool = False, max_trace_steps: int = DEFAULT_MAX_TRACE_STEPS) -> LuaResult:
        """One request and its answer. Any exception in between (a KeyboardInterrupt, a bad argument) kills the
        worker, so a later call never reads the answer meant for this one; answers also echo a request id."""
        with self._lock:
            try:
                return self._exchange(source, max_steps, max_memory, max_output, timeout, trace,
                                      max_trace_steps)
            except BaseException:
                self.close()
                raise

    def _exchange(self, source: str, max_steps: int, max_memory: int, max_output: int, timeout: float,
                  trace: bool, max_trace_steps: int) -> LuaResult:
        lost = () if trace else None  # the trace of a run whose worker was killed
        if self._proc is None or self._pid != os.getpid() or self._proc.poll() is not None:
            self._proc = None  # after a fork the pipe belongs to the parent: start our own worker
            self._start()
        request_id = next(self._ids)
        request = pickle.dumps((request_id, source, max_steps, max_memory, max_output, trace, max_trace_steps),
                               protocol=pickle.HIGHEST_PROTOCOL)
        deadline = time.monotonic() + timeout
        try:
            self._proc.stdin.write(_HEADER.pack(len(request)) + request)
            header = self._read_exact(_HEADER.size, deadline)
            body = None if header is None else self._read_exact(_HEADER.unpack(header)[0], deadline)
        except (_WorkerDied, BrokenPipeError) as exc:
            self.close()
            return LuaResult("error", "", f"Lua sandbox worker crashed ({exc})", -1, lost, trace)
        if body is None:
            self.close()
            return LuaResult("timeout", "", f"wall-clock limit of {timeout:g} s exceeded", -1, lost, trace)
        answer_id, result = pickle.loads(body)
        if answer_id != request_id:
            self.close()
            raise RuntimeError(f"Lua sandbox worker answered request {answer_id} instead of {request_id}")
        return result


_DEFAULT_WORKER = SandboxWorker()
atexit.register(_DEFAULT_WORKER.close)


def check_timeout(timeout: float) -> float:
    """A wall-clock limit is a finite number of seconds > 0 (not a bool, NaN or infinity)."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
            math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite positive number of seconds, got {timeout!r}")
    return float(timeout)


def run_lua(source: str, *, max_steps: int = DEFAULT_MAX_STEPS, max_memory: int = DEFAULT_MAX_MEMORY,
            max_output: int = DEFAULT_MAX_OUTPUT, timeout: float = DEFAULT_TIMEOUT, trace: bool = False,
            max_trace_steps: int = DEFAULT_MAX_TRACE_STEPS) -> LuaResult:
    """Run untrusted Lua 5.4 source in the sandbox and return its LuaResult.

    Limits: `max_steps` VM instructions, `max_memory` bytes of Lua heap, `max_output` bytes of stdout and
    `timeout` seconds of wall-clock time (which also covers C library calls). The result's `steps` is -1
    when the worker had to be killed (timeout, crash) and the count is unknown. `trace=True` also records the
    execution trace (`LuaResult.trace`, at most `max_trace_steps` steps; see `jaxlua.lua.trace`); the
    wall-clock limit then covers the traced run too. All arguments are checked before anything runs.
    """
    encode_source(source)
    max_steps, max_memory, max_output, max_trace_steps = check_limits(
        max_steps, max_memory, max_output, max_trace_steps)
    timeout = check_timeout(timeout)
    if not isinstance(trace, bool):
        raise ValueError(f"trace must be True or False, got {trace!r}")
    return _DEFAULT_WORKER.run(source, max_steps, max_memory, max_output, timeout, trace, max_trace_steps)
