"""Models (Flax NNX): the registered recurrent cells, the block parts, LanguageModel, Transformer, `build`.

A model is an embedding, blocks and a head; a block is a pattern of residual branches, each a registered part
(`PARTS`: the cell, MoE, attention, program recall, MLPs) behind one call `(x, ctx, cache) -> (y, cache, aux)`.
Imports no lupa and no tree-sitter: a GPU host trains from encoded arrays with the JAX stack alone. The names of
cells and model kinds are the registries `CELLS` and `MODELS` of `jaxlua.config`.
"""
from jaxlua.config import CELLS, MODELS, ModelConfig, model_names
from jaxlua.models.attention import SelfAttention
from jaxlua.models.block import Block
from jaxlua.models.cells import GRU, LSTM, RNN, RecurrentCell
from jaxlua.models.language_model import DecodeState, LanguageModel, Layout
from jaxlua.models.min_cells import MinGRU, MinLSTM
from jaxlua.models.moe import MoE
from jaxlua.models.parts import PARTS, Branch, Context, Part
from jaxlua.models.registry import build
from jaxlua.models.transformer import Transformer

# The registries' names at import, for parametrising (the registries themselves stay the source).
CELL_NAMES = CELLS.names()
MODEL_NAMES = model_names()

__all__ = [
    "CELLS", "CELL_NAMES", "MODELS", "MODEL_NAMES", "PARTS", "Block", "Branch", "Context", "DecodeState", "GRU",
    "LSTM", "LanguageModel", "Layout", "MinGRU", "MinLSTM", "MoE", "ModelConfig", "Part", "RNN", "RecurrentCell",
    "SelfAttention", "Transformer", "build", "model_names",
]
