"""Models (Flax NNX): the registered recurrent cells, MoE, attention, LanguageModel, Transformer, `build`.

Imports no lupa and no tree-sitter: a GPU host trains from encoded arrays with the JAX stack alone. The names
of cells and model kinds are the registries `CELLS` and `MODELS` of `jaxlua.config`.
"""
from jaxlua.config import CELLS, MODELS, ModelConfig, model_names
from jaxlua.models.attention import SelfAttention
from jaxlua.models.cells import GRU, LSTM, RNN, RecurrentCell
from jaxlua.models.language_model import Block, LanguageModel
from jaxlua.models.min_cells import MinGRU, MinLSTM
from jaxlua.models.moe import MoE
from jaxlua.models.registry import build
from jaxlua.models.transformer import Transformer

# Snapshots of the registries' names at import, for callers of the previous version (prefer the registries).
CELL_NAMES = CELLS.names()
MODEL_NAMES = model_names()

__all__ = [
    "CELLS", "CELL_NAMES", "MODELS", "MODEL_NAMES", "Block", "GRU", "LSTM", "LanguageModel", "MinGRU",
    "MinLSTM", "MoE", "ModelConfig", "RNN", "RecurrentCell", "SelfAttention", "Transformer", "build",
    "model_names",
]
