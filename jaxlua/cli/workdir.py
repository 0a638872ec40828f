"""Workdir rules shared by the scripts: checks before anything is written, and the lock.

No JAX here. A workdir holds one training run (its files are named in jaxlua.workdir_files); `WorkdirLock`
keeps a second train or evaluate off it while one runs.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import socket

from jaxlua.cli.flags import FlagError
from jaxlua.config import ConfigBase, config_field
from jaxlua.workdir_files import CHECKPOINT_DIRS, CONFIG_FILE, LOCK_FILE


@dataclasses.dataclass(frozen=True)
class TrainedRun(ConfigBase):
    """The setting (and so the flag) naming a trained run, for the scripts that read one (evaluate, predict)."""

    workdir: str | None = config_field(None, "Training workdir holding the checkpoints, config and vocabulary.")


class WorkdirBusyError(RuntimeError):
    """Another live process holds the workdir's lock."""


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


def check_run_dir(workdir: str | None, *, writable: bool = False) -> pathlib.Path:
    """The workdir of a trained run (readable; writable too when `writable`), or FlagError naming the problem."""
    if not workdir:
        raise FlagError("--workdir is required (the training run's directory)")
    path = pathlib.Path(workdir).expanduser()
    if not path.is_dir():
        raise FlagError(f"--workdir {workdir} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise FlagError(f"--workdir {workdir} is not readable")
    if writable and not os.access(path, os.W_OK):
        raise FlagError(f"--workdir {workdir} is not writable (the metrics file goes there)")
    return path


def check_not_orphaned(workdir: pathlib.Path) -> None:
    """FlagError when `workdir` holds checkpoints but no config.json: its settings are lost, so a re-run would
    train under a configuration the checkpoints may not match."""
    if (workdir / CONFIG_FILE).exists():
        return
    if any((workdir / name).is_dir() and any((workdir / name).iterdir()) for name in CHECKPOINT_DIRS):
        raise FlagError(f"--workdir {workdir} holds checkpoints but no {CONFIG_FILE}; restore it or use another "
                        "--workdir")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkdirLock:
    """`with WorkdirLock(workdir, "train"):` holds workdir/lock.json (pid, host, start time, command).

    A lock whose process is gone (same host, dead pid) is taken over; a live one raises WorkdirBusyError naming
    its holder. A workdir the lock created is removed again on release if nothing else was written to it (a run
    that failed on bad data leaves no empty directory behind).
    """

    def __init__(self, workdir: pathlib.Path, command: str) -> None:
        self.path = pathlib.Path(workdir) / LOCK_FILE
        self.command = command
        self._held = False
        self._created = False

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable or half written: treat as stale

    def acquire(self) -> None:
        self._created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "started": datetime.datetime.now().isoformat(timespec="seconds")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileNotFoundError:  # another lock removed the directory it had created in between
                self.path.parent.mkdir(parents=True, exist_ok=True)
                continue
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue
                live = (holder.get("host") != socket.gethostname()
                        or (isinstance(holder.get("pid"), int) and _pid_alive(holder["pid"])))
                if holder and live:
                    raise WorkdirBusyError(
                        f"{self.path.parent} is in use by {holder.get('command', 'another run')} (pid "
                        f"{holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}); wait for "
                        f"it to finish or remove {self.path} if that process is gone") from None
                self.path.unlink(missing_ok=True)  # stale: its process is dead
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(record, file)
            self._held = True
            return
        raise WorkdirBusyError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False
            if self._created:
                try:
                    self.path.parent.rmdir()  # only succeeds while empty
                except OSError:
                    pass

    def __enter__(self) -> "WorkdirLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

