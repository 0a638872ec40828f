"""Training on the program stream is deterministic for (seed, step): a run interrupted after a checkpoint and
resumed ends with the parameters of an uninterrupted one, in-process and after SIGKILL."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxlua.train.loop import TrainingInterrupted
from jaxlua.train.sources import BatchSource
from tests.train.stream_run import flat_params, train_on_stream

REPO = pathlib.Path(__file__).resolve().parents[2]


class StopAt(BatchSource):
    """A source that interrupts the loop (as Ctrl-C would) when asked for the batch of `step`."""

    def __init__(self, inner: BatchSource, step: int) -> None:
        self._inner, self._step = inner, step
        self.curriculum, self.edges = inner.curriculum, inner.edges
        self.loss_window, self.window_reason = inner.loss_window, inner.window_reason

    def batch(self, step, cstate):
        if step == self._step:
            raise KeyboardInterrupt
        return self._inner.batch(step, cstate)


def assert_same_params(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_interrupted_stream_run_resumes_to_the_same_parameters(tmp_path):
    steps = dict(steps=14, eval_interval=4, checkpoint_interval=4, log_interval=2)
    reference = train_on_stream(tmp_path / "reference", **steps)
    # Stopped at step 7: the newest checkpoint is step 4, in the middle of the stream's first block of 8 batches.
    with pytest.raises(TrainingInterrupted, match="last checkpoint step 4"):
        train_on_stream(tmp_path / "resumed", wrap=lambda source: StopAt(source, 7), **steps)
    resumed = train_on_stream(tmp_path / "resumed", **steps)
    assert resumed.start_step == 4 and reference.start_step == 0
    assert_same_params(flat_params(resumed.state), flat_params(reference.state))
    assert resumed.history[-1] == reference.history[-1]
    assert set(resumed.data_scalars) == {"consumer_wait_s"}
    # Each streamed program appears in the key log once (the resumed run read it instead of regenerating).
    keys = np.fromfile(tmp_path / "resumed" / "stream_keys.u64", np.uint64)
    assert len(keys) == len(set(keys.tolist())) >= 14 * 8


def _start(workdir: pathlib.Path, cache: pathlib.Path) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return subprocess.Popen([sys.executable, "-m", "tests.train.stream_run", str(workdir)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _saved_steps(workdir: pathlib.Path) -> list[int]:
    directory = workdir / "checkpoints"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.exists() else []


def _finished(process: subprocess.Popen, timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_on_the_stream(tmp_path):
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference = _start(reference_dir, tmp_path / "xla")
    victim = _start(killed_dir, tmp_path / "xla")
    deadline = time.time() + 300
    while not _saved_steps(killed_dir) and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "the run finished before it could be killed; give it more steps"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    saved = _saved_steps(killed_dir)

    resumed_out = _finished(_start(killed_dir, tmp_path / "xla"))
    _finished(reference)
    start_step = json.loads(resumed_out.strip().splitlines()[-1])["start_step"]
    assert start_step in saved and start_step > 0, (start_step, saved)
    expected, actual = np.load(reference_dir / "final_params.npz"), np.load(killed_dir / "final_params.npz")
    assert_same_params(dict(actual), dict(expected))


def test_mastery_stream_run_resumes_to_the_same_parameters_and_mix(tmp_path, monkeypatch):
    # Threshold 0: the second level is admitted at the first validation (step 4); with a lag of one block its
    # mix reaches the batches from block 2 (step 16), so steps 16-23 train on it, and the resume starts at 16.
    monkeypatch.setattr("jaxlua.data.stream_mix.MIX_LAG_BLOCKS", 1)
    settings = dict(steps=24, eval_interval=4, checkpoint_interval=8, log_interval=4, levels="4,6",
                    curriculum="mastery", mastery_start=1, mastery_threshold=0.0)
    reference = train_on_stream(tmp_path / "reference", **settings)
    with pytest.raises(TrainingInterrupted, match="last checkpoint step 16"):
        train_on_stream(tmp_path / "resumed", wrap=lambda source: StopAt(source, 19), **settings)
    resumed = train_on_stream(tmp_path / "resumed", **settings)
    assert resumed.start_step == 16
    assert_same_params(flat_params(resumed.state), flat_params(reference.state))
    assert resumed.history[-1] == reference.history[-1]
