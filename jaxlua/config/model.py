"""`ModelConfig`: the shape of a model, every field with its help and constraint.

JAX-free: the compute dtype is looked up (and jax.numpy imported) only when `compute_dtype` is read.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from jaxlua.config.fields import ConfigBase as _Config
from jaxlua.config.fields import config_field as _field
from jaxlua.config.registries import CELLS, DTYPES, MODELS, SCAN_METHODS, check_model_name


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Config):
    """Shape of a LanguageModel (or of another model kind, e.g. the Transformer, when `cell` names one).

    `num_experts = 0` turns MoE off; `moe_top_k = 0` keeps the dissertation's dense MoE (every expert, softmax
    weights). `dtype` is the compute dtype; parameters and recurrent state stay float32. For the Transformer,
    `hidden_dim` is the model width and `embed_dim` is unused (its embedding is tied to the output head).
    `vocab_size = 0` means "not known yet": a training run sets it from the dataset's vocabulary.
    """

    vocab_size: int = _field(0, "Vocabulary size (0: set from the dataset's vocabulary).", low=0)
    cell: str = _field("mingru", "Recurrent cell, or another model kind (the transformer baseline).", choices=CELLS,
                       check=check_model_name)
    embed_dim: int = _field(128, "Token embedding size.", low=0, low_open=True)
    hidden_dim: int = _field(256, "Hidden state size of the cell.", low=0, low_open=True)
    num_layers: int = _field(2, "Number of stacked blocks.", low=0, low_open=True)
    num_experts: int = _field(0, "Mixture-of-experts count (0 = off).", low=0)
    moe_top_k: int = _field(0, "Experts used per token (0 = dense, every expert).", low=0)
    attention: bool = _field(False, "Add self-attention to each block.")
    conv_width: int = _field(0, "Short causal depthwise convolution before each block's cell, in tokens (0 = off; "
                                "as Griffin).", low=0)
    mlp_ratio: int = _field(0, "Gated MLP (GeGLU) after each block's cell, inner width = ratio * hidden_dim "
                               "(0 = off).", low=0)
    program_encoder: bool = _field(False, "Add a backward cell to each block that reads the program right to left "
                                          "(a bidirectional program encoder; the output is still written left to "
                                          "right).")
    recall_dim: int = _field(0, "Program recall after each block's cell, this wide (0 = off; a multiple of 32, one "
                                "head per 32): cross-attention from the output positions (from the first SEP on) "
                                "to the program positions, for looking up and copying what the program holds.",
                             low=0)
    num_heads: int = _field(4, "Attention heads.", low=0, low_open=True)
    dropout: float = _field(0.0, "Dropout rate (off by default: the small models underfit; results/README.md, "
                                 "\"Does it learn?\").", low=0.0, high=1.0, high_open=True)
    max_len: int = _field(512, "Longest encoded sequence (data filter and the Transformer's positions).", low=4)
    scan_method: str = _field("auto", "Linear-scan backend of the min cells.", choices=SCAN_METHODS)
    dtype: str = _field("float32", "Compute dtype.", choices=DTYPES)

    def _check_together(self) -> None:
        if self.moe_top_k > self.num_experts:
            raise ValueError(f"moe_top_k ({self.moe_top_k}) cannot exceed num_experts ({self.num_experts})")
        if self.program_encoder and self.cell in MODELS:
            raise ValueError(f"program_encoder needs a recurrent cell ({', '.join(CELLS.names())}); got {self.cell!r}")
        if self.recall_dim and self.cell in MODELS:
            raise ValueError(f"recall_dim needs a recurrent cell ({', '.join(CELLS.names())}); got {self.cell!r}")
        if self.recall_dim % 32:
            raise ValueError(f"recall_dim must be 0 (off) or a multiple of 32 (the width of a head); got "
                             f"{self.recall_dim}")
        if self.conv_width == 1:
            raise ValueError("conv_width must be 0 (off) or at least 2")
        if (self.attention or self.cell in MODELS) and self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads}) "
                             "with attention")

    @property
    def compute_dtype(self) -> Any:
        """The jnp dtype named by `dtype` (imports jax.numpy on first use)."""
        return DTYPES.get(self.dtype)

    @property
    def is_recurrent(self) -> bool:
        """True when `cell` names a registered recurrent cell (the LanguageModel), not another model kind."""
        return self.cell in CELLS

    @classmethod
    def paper(cls, vocab_size: int, cell: str = "mingru", **overrides: Any) -> "ModelConfig":
        """The dissertation's shape: one block, embedding 500, hidden 900, dropout 0.5."""
        values = dict(vocab_size=vocab_size, cell=cell, embed_dim=500, hidden_dim=900, num_layers=1,
                      dropout=0.5, num_heads=4)
        values.update(overrides)
        return cls(**values)
