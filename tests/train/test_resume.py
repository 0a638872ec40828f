"""A run killed with SIGKILL after a checkpoint and then resumed ends with the parameters of an uninterrupted run."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]


def _start(workdir: pathlib.Path, cache: pathlib.Path) -> subprocess.Popen:
    # A shared persistent compilation cache: the resumed process reuses the executables compiled before it.
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        JAX_COMPILATION_CACHE_DIR=str(cache),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.train.toy_run", "train", str(workdir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen, timeout: float = 240) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def _saved_steps(workdir: pathlib.Path) -> list[int]:
    directory = workdir / "checkpoints"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.exists() else []


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference = _start(reference_dir, tmp_path / "xla")
    victim = _start(killed_dir, tmp_path / "xla")
    deadline = time.time() + 240
    while not _saved_steps(killed_dir) and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "the run finished before it could be killed; give it more steps"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed_dir / "final_params.npz").exists()
    saved = _saved_steps(killed_dir)

    resumed_out = _finished(_start(killed_dir, tmp_path / "xla"))
    _finished(reference)
    start_step = json.loads(resumed_out.strip().splitlines()[-1])["start_step"]
    assert start_step in saved and start_step > 0, (start_step, saved)

    expected = np.load(reference_dir / "final_params.npz")
    actual = np.load(killed_dir / "final_params.npz")
    assert sorted(expected.files) == sorted(actual.files)
    for name in expected.files:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)

    # The CSV of the resumed run has each (step, kind) row once: rows written after the last checkpoint by the
    # killed process were dropped on resume.
    with (killed_dir / "metrics.csv").open() as handle:
        keys = [(row["step"], bool(row["val_loss"])) for row in csv.DictReader(handle)]
    assert len(keys) == len(set(keys))
