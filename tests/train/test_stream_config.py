"""The stream settings of TrainConfig: validated in the one validate path, mapped to the stream's StreamConfig by
`stream_config`, saved, compared on resume (except the worker count), and rejected from the command line as one
line with exit code 2."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from jaxlua.config import TrainConfig
from jaxlua.train.resume_rules import config_differences
from jaxlua.data.run_data import stream_config

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("values, message", [
    (dict(levels="4,x"), "comma-separated integers"),
    (dict(levels="4,4"), "distinct values"),
    (dict(levels="9"), "distinct values"),
    (dict(stream=True, data_dir="data/x"), "exclude each other"),
    (dict(stream=True, curriculum="sequential"), "needs a fixed dataset"),
    (dict(heldout_per_level=0), "heldout_per_level must be positive"),
    (dict(stream_workers=-1), "stream_workers must be >= 0"),
    (dict(batch_size=0), "batch_size must be positive"),
    (dict(num_buckets=0), "num_buckets must be positive"),
    (dict(max_len=3), "max_len must be >= 4"),
    (dict(seed=-1), "seed must be >= 0"),
])
def test_bad_stream_settings_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_stream_settings_round_trip_and_map_to_the_stream():
    config = TrainConfig(stream=True, levels="5,7", heldout_per_level=20, stream_workers=2, batch_size=16,
                         max_len=128, num_buckets=3, seed=9)
    assert TrainConfig.from_json(config.to_json()) == config
    assert config.stream_levels == (5, 7)
    stream = stream_config(config)
    assert (stream.levels, stream.seed, stream.batch_size, stream.max_len, stream.num_buckets,
            stream.heldout_per_level, stream.workers) == ((5, 7), 9, 16, 128, 3, 20, 2)
    assert stream_config(config.replace(stream_workers=0)).workers >= 1
    assert stream_config(config).initial_mix == ()  # the levels take turns


def test_the_mastery_curriculum_starts_the_stream_on_its_first_levels():
    config = TrainConfig(stream=True, levels="0,8,4", curriculum="mastery", mastery_start=2)
    assert stream_config(config).initial_mix == (1.0, 1.0, 0.0)
    assert stream_config(config.replace(mastery_start=5)).initial_mix == (1.0, 1.0, 1.0)


def test_resume_ignores_the_worker_count_only():
    saved = TrainConfig(stream=True, levels="4", stream_workers=1)
    assert config_differences(saved, saved.replace(stream_workers=3)) == []
    assert config_differences(saved, saved.replace(levels="4,5")) == ["levels: saved '4', now '4,5'"]
    assert config_differences(saved, saved.replace(heldout_per_level=9)) == [
        "heldout_per_level: saved 500, now 9"]
    assert config_differences(saved, saved.replace(stream=False)) == ["stream: saved True, now False"]


@pytest.mark.parametrize("flags, message", [
    ("--stream --levels=9", "levels must be distinct values"),
    ("--stream --curriculum=blend", "needs a fixed dataset"),
    ("--stream --data_dir=/nonexistent", "exclude each other"),
])
def test_bad_stream_flags_are_one_line_and_exit_2(flags, message, tmp_path):
    done = subprocess.run([sys.executable, "-m", "experiments.train", *flags.split(), f"--workdir={tmp_path / 'r'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "r").exists()
