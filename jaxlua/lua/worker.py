"""Worker process behind `run_lua`: reads length-prefixed pickled requests on stdin, answers on stdout.

Started by `jaxlua.lua.runner.SandboxWorker`; not meant to be run by hand. Only the trusted parent writes
to its stdin; Lua code inside cannot reach Python, the pipe or the file system.
"""
from __future__ import annotations

import os
import pickle
import struct
import sys

from jaxlua.lua.sandbox import LuaSandbox

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
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed by accident goes to stderr, never into the reply stream
    sandbox = LuaSandbox()
    os.write(reply_fd, b"R")
    while True:
        header = _read_exact(0, _HEADER.size)
        if header is None:
            return
        source, max_steps, max_memory, max_output = pickle.loads(_read_exact(0, _HEADER.unpack(header)[0]))
        result = sandbox.run(source, max_steps=max_steps, max_memory=max_memory, max_output=max_output)
        reply = pickle.dumps((result.status, result.stdout, result.error, result.steps),
                             protocol=pickle.HIGHEST_PROTOCOL)
        data = _HEADER.pack(len(reply)) + reply
        while data:
            data = data[os.write(reply_fd, data):]


if __name__ == "__main__":
    sys.exit(serve())
