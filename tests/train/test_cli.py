"""experiments/train.py rejects bad flags before any compute: one line on stderr, exit code 2."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--cell=foo", "unknown cell 'foo'"),
        ("--hidden_dim=-3", "hidden_dim must be positive"),
        ("--workdir=/etc/hostname/run", "is not a directory"),
        ("--data_dir=/nonexistent/data", "has no train.jsonl"),
        ("--schedule=linear", "unknown schedule"),
    ],
)
def test_bad_flag_is_one_line_and_exit_2(flag, message, tmp_path):
    args = [sys.executable, "-m", "experiments.train", flag]
    if not flag.startswith("--workdir"):
        args.append(f"--workdir={tmp_path / 'run'}")
    done = subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "run").exists()


def test_flags_override_the_preset():
    import dataclasses  # pylint: disable=import-outside-toplevel
    import types  # pylint: disable=import-outside-toplevel

    from experiments import train as train_script  # pylint: disable=import-outside-toplevel
    from jaxlua.train.config import TrainConfig  # pylint: disable=import-outside-toplevel

    values = types.SimpleNamespace(**{f.name: None for f in dataclasses.fields(TrainConfig)})
    values.preset, values.cell, values.steps = "default", "mingru", 5
    assert train_script.config_from_flags(values).warmup_steps == 0  # clamped below the short --steps
    values.preset = "paper"
    config = train_script.config_from_flags(values)
    assert (config.cell, config.steps, config.hidden_dim, config.lr) == ("mingru", 5, 900, 9.9e-5)
