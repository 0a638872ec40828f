"""The workdir refuses to resume a run under another configuration or dataset."""

from __future__ import annotations

import json

import pytest

from jaxlua.train.checkpoint import prepare_workdir
from jaxlua.train.config import TrainConfig
from jaxlua.train.resume_rules import ResumeMismatchError, check_resume


def test_resume_refuses_another_config_or_dataset(tmp_path):
    config = TrainConfig(steps=10)
    prepare_workdir(tmp_path, config, {"fingerprint": "abc"}, vocab=None)
    assert json.loads((tmp_path / "config.json").read_text())["steps"] == 10
    check_resume(tmp_path, config.replace(log_interval=7, data_dir="/moved"), "abc")  # harmless changes
    with pytest.raises(ResumeMismatchError, match=r"different configuration \(hidden_dim: saved 256, now 8\)"):
        check_resume(tmp_path, config.replace(hidden_dim=8), "abc")
    with pytest.raises(ResumeMismatchError, match="another dataset"):
        prepare_workdir(tmp_path, config, {"fingerprint": "xyz"}, vocab=None)
