"""`build(config, rngs)`: one entry point from a ModelConfig to a model, over the six model names."""
from __future__ import annotations

from typing import Callable

from flax import nnx

from jaxlua.models.config import ModelConfig
from jaxlua.models.language_model import CELLS, LanguageModel
from jaxlua.models.transformer import Transformer

REGISTRY: dict[str, Callable[..., nnx.Module]] = {name: LanguageModel for name in CELLS}
REGISTRY["transformer"] = Transformer


def build(config: ModelConfig, rngs: nnx.Rngs | None = None) -> LanguageModel | Transformer:
    """The model named by `config.cell` (rnn, lstm, gru, mingru, minlstm, transformer)."""
    if not isinstance(config, ModelConfig):
        raise TypeError(f"build expects a ModelConfig; got {type(config).__name__}")
    if config.cell not in REGISTRY:
        raise ValueError(f"unknown model {config.cell!r}; expected one of {tuple(REGISTRY)}")
    return REGISTRY[config.cell](config, rngs=rngs if rngs is not None else nnx.Rngs(0))
