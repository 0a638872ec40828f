"""Small helpers shared by the evaluation scripts: flag checks that run before anything heavy loads.

No JAX here: a bad flag must be reported in a fraction of a second, before models or data are loaded.
"""
from __future__ import annotations

import os
import pathlib
import sys
from typing import NoReturn


class FlagError(ValueError):
    """A flag value that cannot work; the scripts print it as one line and exit with code 2."""


def fail(message: object, code: int = 2) -> NoReturn:
    """Print one clear line on stderr and exit (code 2: bad usage or bad input)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def check_workdir(workdir: str | None) -> pathlib.Path:
    """The workdir as a readable directory, or FlagError naming the problem."""
    if not workdir:
        raise FlagError("--workdir is required (the training run's directory)")
    path = pathlib.Path(workdir).expanduser()
    if not path.is_dir():
        raise FlagError(f"--workdir {workdir} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise FlagError(f"--workdir {workdir} is not readable")
    return path


def read_source(file: str | None) -> tuple[pathlib.Path, str]:
    """(path, UTF-8 text) of a Lua source file, or FlagError naming the problem."""
    if not file:
        raise FlagError("--file is required (the Lua program to predict)")
    path = pathlib.Path(file).expanduser()
    if not path.is_file():
        raise FlagError(f"--file {file} is not a file")
    try:
        return path, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlagError(f"--file {file} cannot be read as UTF-8 text: {exc}") from None


def load_run(workdir: pathlib.Path):
    """(model, train_config, vocab, tokenizer) via jaxlua.train.checkpoint.load_for_inference, or fail()."""
    try:
        from jaxlua.train.checkpoint import load_for_inference  # pylint: disable=import-outside-toplevel
        from jaxlua.train.cli import quiet_orbax_info_logs  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        fail(f"cannot load trained models: jaxlua.train.checkpoint.load_for_inference is unavailable ({exc})")
    quiet_orbax_info_logs()
    try:
        return load_for_inference(workdir)
    except FileNotFoundError as exc:
        fail(exc)
