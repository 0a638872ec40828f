"""ModelConfig: every model hyperparameter as one frozen, validated value."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp

CELL_NAMES = ("rnn", "lstm", "gru", "mingru", "minlstm")
MODEL_NAMES = CELL_NAMES + ("transformer",)
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
SCAN_METHODS = ("auto", "sequential", "associative", "heinsen", "pallas")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape of a LanguageModel (or the Transformer baseline when `cell == "transformer"`).

    `num_experts = 0` turns MoE off; `moe_top_k = 0` keeps the dissertation's dense MoE (every expert, softmax
    weights). `dtype` is the compute dtype; parameters and recurrent state stay float32. For the Transformer,
    `hidden_dim` is the model width and `embed_dim` is unused (its embedding is tied to the output head).
    """

    vocab_size: int
    cell: str = "mingru"
    embed_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 2
    num_experts: int = 0
    moe_top_k: int = 0
    attention: bool = False
    num_heads: int = 4
    dropout: float = 0.1
    max_len: int = 512
    scan_method: str = "auto"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.cell not in MODEL_NAMES:
            raise ValueError(f"unknown cell {self.cell!r}; expected one of {MODEL_NAMES}")
        for name in ("vocab_size", "embed_dim", "hidden_dim", "num_layers", "num_heads", "max_len"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        if self.num_experts < 0:
            raise ValueError(f"num_experts must be >= 0 (0 = off); got {self.num_experts}")
        if not 0 <= self.moe_top_k <= self.num_experts:
            raise ValueError(f"moe_top_k must be in [0, num_experts={self.num_experts}]; got {self.moe_top_k}")
        needs_heads = self.attention or self.cell == "transformer"
        if needs_heads and self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim={self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")
        if self.scan_method not in SCAN_METHODS:
            raise ValueError(f"unknown scan_method {self.scan_method!r}; expected one of {SCAN_METHODS}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; expected one of {tuple(DTYPES)}")

    @property
    def compute_dtype(self) -> jnp.dtype:
        return DTYPES[self.dtype]

    @classmethod
    def paper(cls, vocab_size: int, cell: str = "mingru", **overrides) -> "ModelConfig":
        """The dissertation's shape: one block, embedding 500, hidden 900, dropout 0.5."""
        values = dict(vocab_size=vocab_size, cell=cell, embed_dim=500, hidden_dim=900, num_layers=1,
                      dropout=0.5, num_heads=4)
        values.update(overrides)
        return cls(**values)
