"""The model configuration, as the models see it: `ModelConfig` and the registries of names (from jaxlua.config).

The configuration itself is JAX-free and lives in `jaxlua.config`; this module re-exports it for the model side.
"""
from __future__ import annotations

from jaxlua.config import CELLS, DTYPES, MODELS, SCAN_METHODS, ModelConfig, model_names

__all__ = ["CELLS", "DTYPES", "MODELS", "SCAN_METHODS", "ModelConfig", "model_names"]
