"""`build(config, rngs)`: one entry point from a ModelConfig to a model, over every registered model name.

A registered cell (jaxlua.config.CELLS) is trained inside the LanguageModel; another model kind
(jaxlua.config.MODELS, e.g. the Transformer) is its own class taking `(config, rngs=...)`.
"""
from __future__ import annotations

from flax import nnx

from jaxlua.config import MODELS, ModelConfig, check_model_name
from jaxlua.models.language_model import LanguageModel


def build(config: ModelConfig, rngs: nnx.Rngs | None = None) -> nnx.Module:
    """The model named by `config.cell`: a LanguageModel over a registered cell, or a registered model kind."""
    if not isinstance(config, ModelConfig):
        raise TypeError(f"build expects a ModelConfig; got {type(config).__name__}")
    if config.vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1 to build a model; got {config.vocab_size}")
    model_class = MODELS.get(config.cell) if config.cell in MODELS else LanguageModel
    check_model_name(config.cell)
    return model_class(config, rngs=rngs if rngs is not None else nnx.Rngs(0))
