"""Flag checks shared by the training scripts (no JAX: a bad flag is reported before anything heavy loads)."""

from __future__ import annotations

import os
import pathlib
import sys
from typing import NoReturn


class FlagError(ValueError):
    """A flag value that cannot work: printed as one line on stderr, exit code 2."""


def fail(message: object, code: int = 2) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def check_writable_dir(path: pathlib.Path, flag: str = "--workdir") -> pathlib.Path:
    """`path` if it is, or can be created as, a writable directory; FlagError naming the problem otherwise."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise FlagError(f"{flag} {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FlagError(f"{flag} {path} is not writable")
    return path


def quiet_orbax_info_logs() -> None:
    """Drop orbax's INFO lines (several per checkpoint save) from absl's log; its warnings and errors stay."""
    import logging as std_logging  # pylint: disable=import-outside-toplevel

    from absl import logging  # pylint: disable=import-outside-toplevel

    def keep(record: std_logging.LogRecord) -> bool:
        return record.levelno >= std_logging.WARNING or f"{os.sep}orbax{os.sep}" not in record.pathname

    logging.get_absl_handler().addFilter(keep)
