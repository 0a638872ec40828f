"""A small process pool of fresh Python interpreters for dataset builds.

multiprocessing's fork is unsafe once JAX's threads run in the caller (e.g. a training script calling
`default_dataset_dir()`), and spawn/forkserver re-import the caller's main script, which hangs scripts that
lack a `__main__` guard. Fresh interpreters fed over pipes avoid both. Results come back in task order,
so what a build writes does not depend on the number of workers or on scheduling.
"""
from __future__ import annotations

import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import traceback
from collections.abc import Iterable, Iterator

_HEADER = struct.Struct("<Q")
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read_message(fd: int) -> object:
    def read_exact(n: int) -> bytes:
        chunks = []
        while n:
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("worker closed its pipe")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    return pickle.loads(read_exact(_HEADER.unpack(read_exact(_HEADER.size))[0]))


def _write_message(fd: int, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    data = _HEADER.pack(len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def start_worker(function: str, *, new_session: bool = False) -> subprocess.Popen:
    """A fresh interpreter running `serve(function)` on its stdin/stdout pipes (`function` is "module:function").

    `new_session`: the worker does not share the caller's terminal session, so Ctrl-C reaches only the caller.
    """
    module, _, name = function.partition(":")
    if not module or not name.isidentifier():
        raise ValueError(f"function must be 'module:function'; got {function!r}")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-c", f"from jaxlua.data.workers import serve; serve({function!r})"]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0,
                            start_new_session=new_session)


class WorkerPool:
    """`workers` interpreter processes that apply one function, named `"module:function"`, to tasks.

    The function is named rather than passed so that this module imports none of its users.
    """

    def __init__(self, workers: int, function: str) -> None:
        self._procs = [start_worker(function) for _ in range(workers)]

    def imap(self, tasks: Iterable) -> Iterator:
        """Results of function(task) for each task, in task order."""
        queue = list(enumerate(tasks))[::-1]
        busy: dict[int, int] = {}  # stdout fd -> task index
        by_fd = {p.stdout.fileno(): p for p in self._procs}
        done: dict[int, object] = {}
        next_index, total = 0, len(queue)
        while next_index < total:
            for fd, proc in by_fd.items():
                if fd not in busy and queue:
                    index, task = queue.pop()
                    _write_message(proc.stdin.fileno(), task)
                    busy[fd] = index
            ready, _, _ = select.select(list(busy), [], [])
            for fd in ready:
                try:
                    status, payload = _read_message(fd)
                except EOFError:
                    raise RuntimeError(f"dataset worker died (exit code {by_fd[fd].wait()})") from None
                if status != "ok":
                    raise RuntimeError(f"dataset worker failed:\n{payload}")
                done[busy.pop(fd)] = payload
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1

    def close(self) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()


def serve(function: str) -> None:
    """Worker loop for `"module:function"`: read a task, answer ("ok", result) or ("error", traceback); stop at
    end of input."""
    module, _, name = function.partition(":")
    apply = getattr(importlib.import_module(module), name)

    reply_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr, never into the reply stream
    while True:
        try:
            task = _read_message(0)
        except EOFError:
            return
        try:
            reply = ("ok", apply(task))
        except Exception:  # reported to the parent, which raises it
            reply = ("error", traceback.format_exc())
        _write_message(reply_fd, reply)

