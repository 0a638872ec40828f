"""Models (Flax NNX): the five recurrent cells, MoE, attention, LanguageModel, Transformer, `build`.

Imports no lupa and no tree-sitter: a GPU host trains from encoded arrays with the JAX stack alone.
"""
from jaxlua.models.attention import SelfAttention
from jaxlua.models.cells import GRU, LSTM, RNN, RecurrentCell
from jaxlua.models.config import CELL_NAMES, MODEL_NAMES, ModelConfig
from jaxlua.models.language_model import CELLS, Block, LanguageModel
from jaxlua.models.min_cells import MinGRU, MinLSTM
from jaxlua.models.moe import MoE
from jaxlua.models.registry import REGISTRY, build
from jaxlua.models.transformer import Transformer

__all__ = [
    "CELLS", "CELL_NAMES", "MODEL_NAMES", "REGISTRY", "Block", "GRU", "LSTM", "LanguageModel", "MinGRU",
    "MinLSTM", "MoE", "ModelConfig", "RNN", "RecurrentCell", "SelfAttention", "Transformer", "build",
]
