"""bench_data's stream section: producer throughput against the default train step, from its command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_stream_section_of_bench_data(tmp_path):
    out = tmp_path / "data.json"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.bench_data", "--num_programs=20", "--sample_programs=10",
         "--coverage_programs=0", "--levels=1", "--stream_levels=1", "--stream_batches=4",
         "--stream_train_steps=2", "--stream_workers=1", f"--out={out}"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stream = json.loads(out.read_text())["stream"]
    assert stream["levels"] == [1] and stream["producer"]["batches"] == 4
    assert stream["producer"]["batches_per_s"] > 0 and stream["producer"]["programs_per_s"] > 0
    step = stream["train_step"]
    assert step["timed_steps"] == 2 and step["steps_run"] == 2 + len(step["compiled_widths"])
    assert step["steps_per_s"] > 0
    ratio = stream["producer"]["batches_per_s"] / step["steps_per_s"]
    assert stream["producer_batches_per_train_step"] == pytest.approx(ratio, rel=0.02, abs=0.01)
