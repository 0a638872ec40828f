"""The training configuration, as the trainer sees it (defined once, JAX-free, in `jaxlua.config`).

The config is the single source of truth for a run: it is saved as JSON beside the checkpoints and a resumed
run refuses to continue under a different one (`jaxlua.train.resume_rules`).
"""
from __future__ import annotations

from jaxlua.config import DEFAULT, PAPER, PRESETS, ModelConfig, TokenizerConfig, TrainConfig
from jaxlua.train.resume_rules import RESUME_GROWABLE_FIELDS, RESUME_IGNORED_FIELDS, config_differences

__all__ = [
    "DEFAULT", "PAPER", "PRESETS", "RESUME_GROWABLE_FIELDS", "RESUME_IGNORED_FIELDS", "ModelConfig",
    "TokenizerConfig", "TrainConfig", "config_differences",
]
