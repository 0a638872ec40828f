"""Ctrl-C or SIGTERM during training: one line naming the step reached and the last checkpoint, exit code 1."""
from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_with_one_line(signum, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "tests.train.toy_run", "interrupt", str(tmp_path)], cwd=REPO,
                               env=dict(os.environ, JAX_PLATFORMS="cpu"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    checkpoints = tmp_path / "checkpoints"
    while not (checkpoints.is_dir() and any(p.name.isdigit() for p in checkpoints.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    last = [line for line in err.splitlines() if line.strip()][-1]
    match = re.fullmatch(r"error: stopped at step (\d+); last checkpoint step (\d+); re-run the same command to "
                         r"resume", last)
    assert match, last
    assert int(match[1]) >= int(match[2]) >= 15


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_outside_the_step_loop_interrupts_at_once(signum):
    """During data preparation or evaluation nothing would honour a stop request: the first signal interrupts."""
    from jaxlua.cli.experiment import interrupt_on_sigterm  # pylint: disable=import-outside-toplevel
    from jaxlua.train.loop import loop_running  # pylint: disable=import-outside-toplevel

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        interrupt_on_sigterm()
        assert not loop_running()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
            time.sleep(2)  # the handler runs between bytecodes, well before this ends
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
