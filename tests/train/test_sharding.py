"""Data parallel: a train step sharded over 2 (forced host) devices equals the single-device step."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_sharded_step_equals_unsharded_step():
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run(
        [sys.executable, "-m", "tests.train.toy_run", "sharded"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["devices"] == 2
    # [batch devices, param devices] for the 1-device run, then for the 2-device run.
    assert result["shardings"] == [1, [1], 2, [2]]
    assert result["max_param_diff"] < 1e-5, result
    assert abs(result["loss"][0] - result["loss"][1]) < 1e-5
