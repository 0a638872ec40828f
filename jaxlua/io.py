"""Atomic file writes: a reader (or a run killed mid-write) sees the old file or the new one, never half of one.

JAX-free and dependency-free, so the data, training and evaluation sides can all use it.
"""

from __future__ import annotations

import os
import pathlib


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> pathlib.Path:
    """Writes `text` to `path` through a temporary file in the same folder and `os.replace`; returns the path.

    The temporary file is flushed to disk before the rename and removed if anything fails, so an interrupted
    write leaves any previous `path` untouched.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding=encoding) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
