"""Worker process behind `run_lua`: reads length-prefixed pickled requests on stdin, answers on stdout.

Started by `jaxlua.lua.runner.SandboxWorker`; not meant to be run by hand. Only the trusted parent writes
to its stdin; Lua code inside cannot reach Python, the pipe or the file system.
"""
from __future__ import annotations

import os
import pickle
import signal
import struct
import sys

from jaxlua.lua.sandbox import LuaResult, LuaSandbox

_HEADER = struct.Struct("<I")


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def serve() -> None:
    """Answer run requests until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; it replaces this worker
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed by accident goes to stderr, never into the reply stream
    sandbox = LuaSandbox()
    os.write(reply_fd, b"R")
    while True:
        header = _read_exact(0, _HEADER.size)
        if header is None:
            return
        request_id, source, max_steps, max_memory, max_output, trace, max_trace_steps = pickle.loads(
            _read_exact(0, _HEADER.unpack(header)[0]))
        try:
            result = sandbox.run(source, max_steps=max_steps, max_memory=max_memory, max_output=max_output,
                                 trace=trace, max_trace_steps=max_trace_steps)
        except Exception as exc:  # pylint: disable=broad-except  (answered, never a dead worker)
            result = LuaResult("error", "", f"sandbox failure: {type(exc).__name__}: {exc}", 0,
                               () if trace else None, trace)
        reply = pickle.dumps((request_id, result), protocol=pickle.HIGHEST_PROTOCOL)
        data = _HEADER.pack(len(reply)) + reply
        while data:
            data = data[os.write(reply_fd, data):]


if __name__ == "__main__":
    sys.exit(serve())
