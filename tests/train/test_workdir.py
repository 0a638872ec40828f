"""Workdir rules: the lock (a second run refused, a stale lock taken over) and the names of metrics files."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from jaxlua.cli.workdir import WorkdirBusyError, WorkdirLock
from jaxlua.workdir_files import LOCK_FILE, metrics_filename


def test_second_holder_is_refused_with_the_first_named(tmp_path):
    with WorkdirLock(tmp_path, "train"):
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(WorkdirBusyError, match=rf"in use by train \(pid {os.getpid()} on "):
            WorkdirLock(tmp_path, "evaluate").acquire()
    assert not (tmp_path / LOCK_FILE).exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(),
                                                  "started": "earlier", "command": "train"}))
    with WorkdirLock(tmp_path, "evaluate"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_metrics_files_are_named_after_what_they_measure():
    assert metrics_filename() == "metrics.json"
    assert metrics_filename("val") == "metrics_val.json"
    assert metrics_filename("test", limit=5) == "metrics_test_limit5.json"
    assert metrics_filename("test", "other set-1a2b3c4d") == "metrics_other-set-1a2b3c4d_test.json"
    names = {metrics_filename(s, d, l) for s in ("test", "val") for d in (None, "x") for l in (None, 5)}
    assert len(names) == 8


def test_a_workdir_the_lock_created_goes_when_nothing_was_written(tmp_path):
    fresh = tmp_path / "runs" / "fresh"
    with WorkdirLock(fresh, "train"):
        assert (fresh / LOCK_FILE).is_file()
    assert not fresh.exists() and (tmp_path / "runs").is_dir()  # the run's own directory goes, its parents stay
    used = tmp_path / "used"
    with WorkdirLock(used, "train"):
        (used / "config.json").write_text("{}")
    assert sorted(p.name for p in used.iterdir()) == ["config.json"]
    existing = tmp_path / "existing"
    existing.mkdir()
    with WorkdirLock(existing, "evaluate"):
        pass
    assert existing.is_dir() and not any(existing.iterdir())  # the user's empty directory stays
