"""TrainConfig: every hyperparameter of a training run as one frozen dataclass, plus named presets.

The config is the single source of truth for a run: it is saved as JSON beside the checkpoints and a resumed
run refuses to continue under a different one (see `jaxlua.train.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

CELLS = ("rnn", "lstm", "gru", "mingru", "minlstm", "transformer")
TOKENIZER_MODES = ("semantic", "paper", "chars")
SCHEDULES = ("cosine", "plateau")
CURRICULA = ("none", "sequential", "blend")
CURRICULUM_ADVANCE = ("steps", "exact_match")
DTYPES = ("float32", "bfloat16")

# Fields that may change between a run and its resumption without changing the trained parameters.
RESUME_IGNORED_FIELDS = ("data_dir", "log_interval")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (model, data, optimizer, schedule, curriculum, logging)."""

    # Model (mirrored into jaxlua.models.ModelConfig).
    cell: str = "mingru"
    embed_dim: int = 128
    hidden_dim: int = 256
    num_layers: int = 2
    num_experts: int = 0
    moe_top_k: int = 0
    attention: bool = False
    num_heads: int = 4
    dropout: float = 0.1
    dtype: str = "float32"
    scan_method: str = "auto"
    # Data.
    data_dir: str | None = None  # None: the built-in dataset (jaxlua.data.default_dataset_dir()).
    tokenizer_mode: str = "semantic"
    max_len: int = 512
    num_buckets: int = 4
    val_max_examples: int = 256  # validation subset used for the in-loop val loss / exact match.
    # Optimizer and loss.
    batch_size: int = 32
    steps: int = 1200
    lr: float = 3e-3
    weight_decay: float = 1e-3
    b1: float = 0.9
    b2: float = 0.98
    label_smoothing: float = 0.1
    clip_norm: float = 1.0
    include_program_loss: bool = False
    aux_loss_weight: float = 1.0
    # Schedule.
    schedule: str = "cosine"
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    plateau_factor: float = 0.5
    plateau_patience: int = 10
    # Curriculum.
    curriculum: str = "none"
    curriculum_advance: str = "steps"
    curriculum_stage_steps: int = 0  # 0: steps split evenly over the stages.
    curriculum_em_threshold: float = 0.9
    blend_fraction: float = 0.2  # share of "all stages" batches in the blend curriculum.
    # Logging and checkpoints.
    eval_interval: int = 200
    checkpoint_interval: int = 200
    log_interval: int = 20
    max_to_keep: int = 2
    seed: int = 0

    def validate(self) -> "TrainConfig":
        """Raises ValueError naming the first bad field; returns self so calls can chain."""

        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        check(self.cell in CELLS, f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")
        check(
            self.tokenizer_mode in TOKENIZER_MODES,
            f"unknown tokenizer_mode {self.tokenizer_mode!r}; choose one of {', '.join(TOKENIZER_MODES)}",
        )
        check(self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        check(
            self.curriculum in CURRICULA,
            f"unknown curriculum {self.curriculum!r}; choose one of {', '.join(CURRICULA)}",
        )
        check(
            self.curriculum_advance in CURRICULUM_ADVANCE,
            f"unknown curriculum_advance {self.curriculum_advance!r}; choose one of {', '.join(CURRICULUM_ADVANCE)}",
        )
        check(self.dtype in DTYPES, f"unknown dtype {self.dtype!r}; choose one of {', '.join(DTYPES)}")
        for name in (
            "embed_dim",
            "hidden_dim",
            "num_layers",
            "num_heads",
            "max_len",
            "num_buckets",
            "batch_size",
            "steps",
            "val_max_examples",
            "eval_interval",
            "checkpoint_interval",
            "log_interval",
            "max_to_keep",
            "plateau_patience",
        ):
            check(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        for name in ("num_experts", "moe_top_k", "warmup_steps", "curriculum_stage_steps", "seed"):
            check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        check(
            self.moe_top_k <= self.num_experts,
            f"moe_top_k ({self.moe_top_k}) cannot exceed num_experts ({self.num_experts})",
        )
        check(self.max_len >= 4, f"max_len must be at least 4, got {self.max_len}")
        check(self.lr > 0, f"lr must be positive, got {self.lr}")
        for name in ("weight_decay", "clip_norm", "aux_loss_weight"):
            check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("dropout", "label_smoothing"):
            check(0.0 <= getattr(self, name) < 1.0, f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("b1", "b2", "plateau_factor", "min_lr_ratio", "blend_fraction", "curriculum_em_threshold"):
            check(0.0 <= getattr(self, name) <= 1.0, f"{name} must be in [0, 1], got {getattr(self, name)}")
        check(
            self.warmup_steps < self.steps or self.warmup_steps == 0,
            f"warmup_steps ({self.warmup_steps}) must be smaller than steps ({self.steps})",
        )
        check(
            not (self.attention or self.cell == "transformer") or self.hidden_dim % self.num_heads == 0,
            f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads}) with attention",
        )
        return self

    def model_config(self, vocab_size: int) -> Any:
        """The jaxlua.models.ModelConfig this run trains (imported lazily: the config is usable without JAX)."""
        from jaxlua.models import ModelConfig  # pylint: disable=import-outside-toplevel

        return ModelConfig(
            vocab_size=vocab_size,
            cell=self.cell,
            embed_dim=self.embed_dim,
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            num_experts=self.num_experts,
            moe_top_k=self.moe_top_k,
            attention=self.attention,
            num_heads=self.num_heads,
            dropout=self.dropout,
            max_len=self.max_len,
            scan_method=self.scan_method,
            dtype=self.dtype,
        )

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with `changes` applied (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        return cls.from_dict(json.loads(text))


def config_differences(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """Names and values of the fields that differ, ignoring those that cannot change the trained parameters."""
    diffs = []
    for field in dataclasses.fields(TrainConfig):
        if field.name in RESUME_IGNORED_FIELDS:
            continue
        old, new = getattr(saved, field.name), getattr(current, field.name)
        if old != new:
            diffs.append(f"{field.name}: saved {old!r}, now {new!r}")
    return diffs


# The default (a 2-layer MinGRU, 128/256, batch 32, 1200 steps) trains in about 10 minutes on a 2-core CPU and
# learns measurably (measured numbers in README).
DEFAULT = TrainConfig()

# The dissertation's run (its section 5.4 and Table 4.1): one block, embedding 500, hidden 900, dropout 0.5,
# label smoothing 0.2, AdamW weight decay 1e-3, lr 9.9e-5, batch 128, 3000 iterations, reduce-on-plateau
# (factor 0.5, patience 10 validations). The cell follows ModelConfig.paper (mingru); --cell picks another.
PAPER = TrainConfig(
    cell="mingru",
    embed_dim=500,
    hidden_dim=900,
    num_layers=1,
    dropout=0.5,
    label_smoothing=0.2,
    weight_decay=1e-3,
    lr=9.9e-5,
    batch_size=128,
    steps=3000,
    schedule="plateau",
    warmup_steps=0,
    plateau_factor=0.5,
    plateau_patience=10,
    eval_interval=50,
    checkpoint_interval=250,
    b2=0.999,
)

PRESETS: dict[str, TrainConfig] = {"default": DEFAULT, "paper": PAPER}
