"""`TrainConfig`: everything a training run depends on, with the model and tokenizer configs inside it.

A run's config is saved as config.json beside its checkpoints; a resumed run must match it
(jaxlua.train.resume_rules). Sub-config fields are also addressable by their flat (flag) names, so
`TrainConfig(cell="gru", steps=10)` and `--cell gru --steps 10` say the same thing.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator

from jaxlua.config.fields import ConfigBase as _Config
from jaxlua.config.fields import config_field as _field
from jaxlua.config.fields import flag_name
from jaxlua.config.migration import nested_from_flat_v0
from jaxlua.config.model import ModelConfig
from jaxlua.config.registries import CURRICULA, CURRICULUM_ADVANCE, SCHEDULES, TARGETS
from jaxlua.config.tokenizer import TokenizerConfig

DEFAULT_WARMUP = 100  # warmup steps when warmup_steps is unset and the run is longer


def default_warmup(steps: int) -> int:
    """Warmup steps of a run of `steps` when warmup_steps is unset: 100, or a tenth of the steps for short runs."""
    return DEFAULT_WARMUP if DEFAULT_WARMUP < steps else steps // 10


def _section_flags() -> dict[str, tuple[str, str]]:
    """Flat name -> (section, field) for the ModelConfig and TokenizerConfig fields a TrainConfig holds."""
    table: dict[str, tuple[str, str]] = {}
    for section, cls in (("model", ModelConfig), ("tokenizer", TokenizerConfig)):
        for field in dataclasses.fields(cls):
            if section == "model" and field.name == "vocab_size":
                continue  # set from the vocabulary, not chosen
            table[flag_name(field)] = (section, field.name)
    return table


SECTION_FLAGS = _section_flags()


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True, init=False)
class TrainConfig(_Config):
    """Everything a training run depends on: the model, the tokenizer, data, optimizer, schedule, curriculum.

    Build it nested (`TrainConfig(model=ModelConfig(...), steps=...)`) or with flat field names
    (`TrainConfig(cell="gru", tokenizer_mode="chars", steps=10)`): a name of a `ModelConfig` or
    `TokenizerConfig` field (by its flag name) goes to that sub-config. `replace` accepts the same flat names.
    """

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig, metadata={"help": "Model shape."})
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig,
                                                   metadata={"help": "Tokenizer options."})
    # Data.
    data_dir: str | None = _field(None, "Dataset directory (train/val/test.jsonl); default: the built-in dataset.")
    num_buckets: int = _field(4, "Length buckets (static batch shapes).", low=0, low_open=True)
    val_max_examples: int = _field(256, "Validation programs used for the in-loop validation loss and exact "
                                        "match.", low=0, low_open=True)
    stream: bool = _field(False, "Train on programs generated, verified in Lua and encoded while training "
                                 "(never one twice) instead of a dataset; validation and test are fixed seeded "
                                 "sets per level.")
    levels: str = _field("4,5,6,7", "Comma-separated difficulty levels the stream generates (with --stream).")
    heldout_per_level: int = _field(500, "Programs per level in each of the stream's fixed validation and test "
                                         "sets (with --stream).", low=0, low_open=True)
    stream_workers: int = _field(0, "Generator processes feeding the stream (0: half the cores, at most 4); "
                                    "changes only the speed, never the batches.", low=0)
    targets: str = _field("output", "What the model learns to write after the program: the output, or the "
                                    "execution trace then the output (loss on both, exact match on the output).",
                          choices=TARGETS)
    # Optimizer and loss.
    batch_size: int = _field(32, "Programs per batch (divisible by the device count).", low=0, low_open=True)
    steps: int = _field(1200, "Training steps (may grow on resume); with time_budget_s, the most steps.", low=0,
                        low_open=True)
    time_budget_s: float = _field(0.0, "Train for this many wall-clock seconds (0 = off; compilation and validation "
                                       "included): the learning rate follows a cosine of the budget's spent share and "
                                       "the run ends when it is spent.", low=0.0)
    lr: float = _field(3e-3, "Peak learning rate.", low=0.0, low_open=True)
    weight_decay: float = _field(1e-3, "AdamW weight decay.", low=0.0)
    b1: float = _field(0.9, "Adam beta1.", low=0.0, high=1.0)
    b2: float = _field(0.98, "Adam beta2.", low=0.0, high=1.0)
    label_smoothing: float = _field(0.0, "Label smoothing of the cross-entropy (off by default, as dropout).",
                                    low=0.0, high=1.0, high_open=True)
    clip_norm: float = _field(1.0, "Global gradient-norm clip (0 = off).", low=0.0)
    include_program_loss: bool = _field(False, "Also train on predicting the program tokens (TEX did).")
    aux_loss_weight: float = _field(1.0, "Weight of the MoE load-balancing loss.", low=0.0)
    # Schedule.
    schedule: str = _field("cosine", "Learning-rate schedule.", choices=SCHEDULES)
    warmup_steps: int | None = _field(None, f"Linear warmup steps (unset: {DEFAULT_WARMUP}, or a tenth of the steps "
                                            "when there are 100 or fewer).", low=0)
    min_lr_ratio: float = _field(0.05, "Final cosine learning rate as a fraction of --lr.", low=0.0, high=1.0)
    plateau_factor: float = _field(0.5, "Reduce-on-plateau factor.", low=0.0, high=1.0)
    plateau_patience: int = _field(10, "Reduce-on-plateau patience (evaluations).", low=0, low_open=True)
    # Curriculum.
    curriculum: str = _field("none", "Curriculum over the difficulty levels.", choices=CURRICULA)
    curriculum_advance: str = _field("steps", "When a curriculum stage ends.", choices=CURRICULUM_ADVANCE)
    curriculum_stage_steps: int = _field(0, "Steps per stage (0 = steps split evenly).", low=0)
    curriculum_em_threshold: float = _field(0.9, "Validation exact match that advances the stage.", low=0.0,
                                            high=1.0)
    blend_fraction: float = _field(0.2, "Share of batches from all stages in the blend curriculum.", low=0.0,
                                   high=1.0)
    mastery_start: int = _field(2, "Levels (the first ones in --levels) the mastery curriculum trains from the "
                                   "start (all of them when there are fewer).", low=0, low_open=True)
    mastery_threshold: float = _field(0.8, "Validation exact match every admitted level must reach before the "
                                           "mastery curriculum admits the next one.", low=0.0, high=1.0)
    mastery_patience: int = _field(3, "Validations without progress (a gain of 0.02 in the admitted levels' mean "
                                      "exact match) after which the mastery curriculum admits the next level "
                                      "anyway.", low=0, low_open=True)
    mastery_floor: float = _field(0.05, "Least error the mastery curriculum counts for an admitted level, so a "
                                        "learned level keeps a share of compute.", low=0.0, high=1.0,
                                  low_open=True)
    # Logging and checkpoints.
    eval_interval: int = _field(200, "Steps between validations.", low=0, low_open=True)
    checkpoint_interval: int = _field(200, "Steps between checkpoints.", low=0, low_open=True)
    log_interval: int = _field(20, "Steps between logged scalars.", low=0, low_open=True)
    max_to_keep: int = _field(2, "Periodic checkpoints kept.", low=0, low_open=True)
    seed: int = _field(0, "Seed of parameters, batches and dropout.", low=0)

    def __init__(self, model: ModelConfig | None = None, tokenizer: TokenizerConfig | None = None,
                 **values: Any) -> None:
        model, tokenizer = model or ModelConfig(), tokenizer or TokenizerConfig()
        sub_changes: dict[str, dict[str, Any]] = {"model": {}, "tokenizer": {}}
        own = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name not in sub_changes}
        for name, value in values.items():
            if name in own:
                own[name] = value
            elif name in SECTION_FLAGS:
                section, field_name = SECTION_FLAGS[name]
                sub_changes[section][field_name] = value
            else:
                raise TypeError(f"TrainConfig got an unexpected field {name!r}")
        object.__setattr__(self, "model", dataclasses.replace(model, **sub_changes["model"]))
        object.__setattr__(self, "tokenizer", dataclasses.replace(tokenizer, **sub_changes["tokenizer"]))
        for name, value in own.items():
            object.__setattr__(self, name, value)
        self.validate()

    def _check_together(self) -> None:
        if self.warmup_steps is not None and self.warmup_steps and self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be smaller than steps ({self.steps})")
        self.stream_levels  # parses and checks `levels`
        if self.include_program_loss and self.model.program_encoder:
            raise ValueError("include_program_loss and program_encoder exclude each other: the backward cell reads "
                             "the program tokens the loss would ask it to predict")
        if self.stream and self.data_dir:
            raise ValueError("stream and data_dir exclude each other: the stream generates its own programs")
        if self.stream and self.curriculum not in ("none", "mastery"):
            raise ValueError(f"curriculum={self.curriculum!r} needs a fixed dataset: the stream mixes its levels "
                             "in every block of batches (its own curricula: none, mastery)")
        if self.curriculum == "mastery" and not self.stream:
            raise ValueError("curriculum='mastery' sets the program stream's level mix: it needs --stream")

    @property
    def stream_levels(self) -> tuple[int, ...]:
        """`levels` as distinct integers from the generator's levels (ValueError naming the problem)."""
        from jaxlua.lua.generator import LEVELS  # pylint: disable=import-outside-toplevel

        try:
            levels = tuple(int(part) for part in self.levels.split(","))
        except ValueError:
            raise ValueError(f"levels must be comma-separated integers like 4,5,6,7, got {self.levels!r}") from None
        if len(set(levels)) != len(levels) or any(level not in LEVELS for level in levels):
            raise ValueError(f"levels must be distinct values from {', '.join(map(str, LEVELS))}, "
                             f"got {self.levels!r}")
        return levels

    @property
    def warmup(self) -> int:
        """Warmup steps in effect: `warmup_steps`, or when unset 100 (a tenth of the steps for short runs)."""
        return self.warmup_steps if self.warmup_steps is not None else default_warmup(self.steps)

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The ModelConfig this run trains, with the vocabulary size filled in."""
        return self.model.replace(vocab_size=vocab_size)

    @classmethod
    def flat_fields(cls) -> Iterator[tuple[str, tuple[str | None, str]]]:
        """(flag name, (section or None, field name)) for every setting, the ModelConfig and TokenizerConfig fields
        in place of their section (by their flag names; `vocab_size` is set from the vocabulary, not chosen)."""
        for field in dataclasses.fields(cls):
            if field.name in ("model", "tokenizer"):
                yield from ((name, loc) for name, loc in SECTION_FLAGS.items() if loc[0] == field.name)
            else:
                yield field.name, (None, field.name)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """From `to_dict()` output, or from the flat format of older config.json files (jaxlua.config.migration)."""
        values = dict(values)
        if not isinstance(values.get("model", {}), dict) or not isinstance(values.get("tokenizer", {}), dict):
            raise ValueError("TrainConfig fields model and tokenizer must be objects")
        if "model" not in values and "tokenizer" not in values:
            values = nested_from_flat_v0(values, SECTION_FLAGS, default_warmup,
                                         cls.__dataclass_fields__["steps"].default)
        unknown = sorted(set(values) - _names(cls))
        unknown += sorted(f"model.{k}" for k in set(values.get("model", {})) - _names(ModelConfig))
        unknown += sorted(f"tokenizer.{k}" for k in set(values.get("tokenizer", {})) - _names(TokenizerConfig))
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        model = ModelConfig(**values.pop("model", {}))
        tokenizer = TokenizerConfig(**values.pop("tokenizer", {}))
        return cls(model=model, tokenizer=tokenizer, **values)
