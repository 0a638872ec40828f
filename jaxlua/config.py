"""The one configuration of jaxlua: the registries of names and the nested, validated run configuration.

JAX-free (flag parsing, dataset tools and the NumPy side import it). Every name a user can choose (cells, model
kinds, scan methods, tokenizer modes and options, dtypes, schedules, curricula) is registered here once;
validation, flag help, sweeps and tests read them from these registries. `TrainConfig` holds a `ModelConfig` and
a `TokenizerConfig`; each field carries its help text and its constraint next to it, and one `validate()` path
(run on construction) checks every field, so an invalid configuration cannot exist.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Iterator

from jaxlua.config_fields import ConfigBase as _Config
from jaxlua.config_fields import config_field as _field
from jaxlua.registry import Registry

# --- Registries: the names, written once. ---------------------------------------------------------------------

CELLS = Registry("cell")
CELLS.register("rnn", "jaxlua.models.cells:RNN", "Elman RNN (tanh).")
CELLS.register("lstm", "jaxlua.models.cells:LSTM", "LSTM.")
CELLS.register("gru", "jaxlua.models.cells:GRU", "GRU.")
CELLS.register("mingru", "jaxlua.models.min_cells:MinGRU", "minGRU: gates from the input only, parallel scan.")
CELLS.register("minlstm", "jaxlua.models.min_cells:MinLSTM", "minLSTM: gates from the input only, parallel scan.")

# Model kinds other than the recurrent LanguageModel; `--cell` accepts these names too (`model_names()`).
MODELS = Registry("model")
MODELS.register("transformer", "jaxlua.models.transformer:Transformer", "Decoder-only Transformer baseline.")

SCAN_METHODS = Registry("scan_method")
SCAN_METHODS.register("auto", None, "Pick the fastest backend for the device and shape.")
SCAN_METHODS.register("sequential", None, "lax.scan, one step at a time.")
SCAN_METHODS.register("associative", None, "lax.associative_scan on (decay, input) pairs.")
SCAN_METHODS.register("heinsen", None, "Log-space cumulative sums (Heinsen's parallel scan).")
SCAN_METHODS.register("pallas", None, "The fused Pallas kernel.")

TOKENIZER_MODES = Registry("tokenizer_mode")
TOKENIZER_MODES.register("semantic", "jaxlua.tokenize.modes:SemanticMode",
                         "Lua tokens with literals split into typed pieces (the default).")
TOKENIZER_MODES.register("paper", "jaxlua.tokenize.modes:PaperMode", "The dissertation's tokenization.")
TOKENIZER_MODES.register("chars", "jaxlua.tokenize.modes:CharsMode", "One token per character.")

IDENTIFIER_STYLES = Registry("identifiers")
IDENTIFIER_STYLES.register("names", "jaxlua.tokenize.identifiers:NamesStyle", "Each identifier is one token.")
IDENTIFIER_STYLES.register("spelled", "jaxlua.tokenize.identifiers:SpelledStyle",
                           "An identifier is NAME followed by its characters.")
IDENTIFIER_STYLES.register("canonical", "jaxlua.tokenize.identifiers:CanonicalStyle",
                           "Identifiers renamed by first appearance (v1, v2, ...).")

DIGIT_ORDERS = Registry("digits")
DIGIT_ORDERS.register("msd", "jaxlua.tokenize.digits:MSD", "Number digits most significant first (as written).")
DIGIT_ORDERS.register("lsd", "jaxlua.tokenize.digits:LSD", "Number digits least significant first.")

TARGETS = Registry("targets")
TARGETS.register("output", None, "The model writes the program's output.")
TARGETS.register("trace_output", None, "The model writes the execution trace, <OUT>, then the output (needs a "
                                       "dataset made with make_dataset --trace); scored on the output alone.")

DTYPES = Registry("dtype")
DTYPES.register("float32", "jax.numpy:float32", "32-bit floats.")
DTYPES.register("bfloat16", "jax.numpy:bfloat16", "bfloat16 compute; parameters and recurrent state stay float32.")

SCHEDULES = Registry("schedule")
SCHEDULES.register("cosine", None, "Linear warmup, then cosine decay to min_lr_ratio * lr.")
SCHEDULES.register("plateau", None, "Constant lr, multiplied by plateau_factor when validation stalls.")

CURRICULA = Registry("curriculum")
CURRICULA.register("none", None, "Batches from every level.")
CURRICULA.register("sequential", None, "One level after another.")
CURRICULA.register("blend", None, "The current level, plus a share of batches from all levels (Learning to "
                                   "Execute's mixed).")
CURRICULA.register("cumulative", None, "Stage k trains on the first k+1 levels together.")
CURRICULA.register("mastery", None, "The stream's level mix follows validation: levels are admitted in --levels "
                                    "order as the earlier ones are learned, and compute goes where the error is "
                                    "(jaxlua.train.mastery).")

CURRICULUM_ADVANCE = Registry("curriculum_advance")
CURRICULUM_ADVANCE.register("steps", None, "Advance a stage after a step count.")
CURRICULUM_ADVANCE.register("exact_match", None, "Advance a stage at a validation exact match.")


def model_names() -> tuple[str, ...]:
    """Every value `cell` accepts: the registered cells, then the other model kinds."""
    return CELLS.names() + MODELS.names()


def check_model_name(name: str) -> str:
    """Returns `name`, or raises ValueError listing `model_names()`."""
    if name not in CELLS and name not in MODELS:
        raise ValueError(f"unknown cell {name!r}; choose one of {', '.join(model_names())}")
    return name


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


@dataclasses.dataclass(frozen=True)
class TokenizerConfig(_Config):
    """How programs and outputs become tokens; saved with a run so evaluation tokenizes as training did."""

    mode: str = _field("semantic", "Tokenizer mode.", choices=TOKENIZER_MODES, flag="tokenizer_mode")
    identifiers: str | None = _field(None, "How identifiers are tokenized in semantic mode (unset: canonical there; "
                                           "the other modes always keep names).", choices=IDENTIFIER_STYLES)
    digits: str = _field("msd", "Digit order of number literals.", choices=DIGIT_ORDERS)
    program_copies: int = _field(1, "Times the program is written before the output: 2 reads it twice, "
                                    "`program <BOS> program` (Learning to Execute's input doubling).", low=1, high=2)

    def _check_together(self) -> None:
        if self.mode != "semantic" and self.identifiers not in (None, "names"):
            raise ValueError(f"identifiers={self.identifiers!r} applies to the semantic tokenizer mode only")

    @property
    def identifier_style(self) -> str:
        """The identifier style in force: `identifiers`, or when unset canonical in semantic mode, else names.

        Canonical is the semantic default because whole-name tokens do not close over varied programs: their
        vocabulary grows with the data and unseen names become <UNK> (results/README.md, "Tokens").
        """
        if self.identifiers is not None:
            return self.identifiers
        return "canonical" if self.mode == "semantic" else "names"

    @property
    def spell_identifiers(self) -> bool:
        """Whether identifiers are spelled (`Tokenizer`'s boolean for identifiers="spelled")."""
        return self.identifier_style == "spelled"


_DEFAULT_WARMUP = 100  # warmup steps when warmup_steps is unset and the run is longer

# Fields that may change between a run and its resumption without changing the trained parameters.
RESUME_IGNORED_FIELDS = ("data_dir", "log_interval", "stream_workers")
# Fields a resumed run may increase (the learning-rate schedule follows the new total or budget).
RESUME_GROWABLE_FIELDS = ("steps", "time_budget_s")


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
    warmup_steps: int | None = _field(None, f"Linear warmup steps (unset: {_DEFAULT_WARMUP}, or a tenth of the steps when "
                                            "there are 100 or fewer).", low=0)
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
            elif name in _SUB_FLAGS:
                section, field_name = _SUB_FLAGS[name]
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
        if self.stream and self.targets != "output":
            raise ValueError(f"targets={self.targets!r} needs a fixed dataset made with make_dataset --trace: the "
                             "stream records no traces")
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
        if self.warmup_steps is not None:
            return self.warmup_steps
        return _DEFAULT_WARMUP if _DEFAULT_WARMUP < self.steps else self.steps // 10

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The ModelConfig this run trains, with the vocabulary size filled in."""
        return self.model.replace(vocab_size=vocab_size)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flag name (sub-config fields inlined), in field order."""
        values: dict[str, Any] = {}
        for name, (section, field_name) in flag_fields():
            values[name] = getattr(getattr(self, section), field_name) if section else getattr(self, field_name)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """From `to_dict()` output, or from the flat dict a config.json of the previous version holds."""
        values = dict(values)
        if not isinstance(values.get("model", {}), dict) or not isinstance(values.get("tokenizer", {}), dict):
            raise ValueError("TrainConfig fields model and tokenizer must be objects")
        if "model" not in values and "tokenizer" not in values:
            values = _from_flat_v0(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        unknown += sorted(f"model.{k}" for k in set(values.get("model", {})) - _names(ModelConfig))
        unknown += sorted(f"tokenizer.{k}" for k in set(values.get("tokenizer", {})) - _names(TokenizerConfig))
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        model = ModelConfig(**values.pop("model", {}))
        tokenizer = TokenizerConfig(**values.pop("tokenizer", {}))
        return cls(model=model, tokenizer=tokenizer, **values)



def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _sub_flags() -> dict[str, tuple[str, str]]:
    """Flat name -> (section, field) for the ModelConfig and TokenizerConfig fields a TrainConfig holds."""
    table: dict[str, tuple[str, str]] = {}
    for section, cls in (("model", ModelConfig), ("tokenizer", TokenizerConfig)):
        for field in dataclasses.fields(cls):
            if section == "model" and field.name == "vocab_size":
                continue  # set from the vocabulary, not chosen
            table[field.metadata.get("flag") or field.name] = (section, field.name)
    return table


_SUB_FLAGS = _sub_flags()


def flag_fields() -> Iterator[tuple[str, tuple[str | None, str]]]:
    """(flag name, (section or None, field name)) for every setting of a TrainConfig, in a stable order."""
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("model", "tokenizer"):
            yield from ((name, loc) for name, loc in _SUB_FLAGS.items() if loc[0] == field.name)
        else:
            yield field.name, (None, field.name)


def field_of(flag: str) -> tuple[dataclasses.Field, type]:
    """(dataclass field, value type without None) behind a flat (flag) name of a TrainConfig."""
    section, name = dict(flag_fields())[flag]
    cls = {"model": ModelConfig, "tokenizer": TokenizerConfig, None: TrainConfig}[section]
    hint = typing.get_type_hints(cls)[name]
    base = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
    return next(f for f in dataclasses.fields(cls) if f.name == name), base


def flag_choices(flag: str) -> tuple[str, ...] | None:
    """The names a flag accepts, or None when it takes a number, a bool or free text."""
    field, _ = field_of(flag)
    if field.metadata.get("choices") is None:
        return None
    return model_names() if field.metadata["choices"] is CELLS else field.metadata["choices"].names()


def _from_flat_v0(values: dict[str, Any]) -> dict[str, Any]:
    """A flat config.json of the previous version -> the nested dict: sub-config fields move into their section,
    `spell_identifiers` becomes identifiers="spelled" (else "names"), and a warmup equal to the default rule becomes unset."""
    nested: dict[str, Any] = {"model": {}, "tokenizer": {}}
    spell = values.pop("spell_identifiers", False)
    for name, value in values.items():
        if name in _SUB_FLAGS:
            section, field_name = _SUB_FLAGS[name]
            nested[section][field_name] = value
        else:
            nested[name] = value
    # That version knew only whole names and spelled names: pin them, whatever today's default is.
    nested["tokenizer"]["identifiers"] = "spelled" if spell else "names"
    steps = nested.get("steps", TrainConfig.__dataclass_fields__["steps"].default)
    auto = _DEFAULT_WARMUP if _DEFAULT_WARMUP < steps else steps // 10
    if nested.get("warmup_steps") == auto:
        nested["warmup_steps"] = None
    return nested


def config_differences(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """Settings that differ (by flag name), ignoring those that cannot change the trained parameters and a
    growth of `steps`."""
    old_values, new_values = saved.flat(), current.flat()
    # An unset identifier style means the mode's default: compare the style in force, not the spelling.
    old_values["identifiers"] = saved.tokenizer.identifier_style
    new_values["identifiers"] = current.tokenizer.identifier_style
    diffs = []
    for name, old in old_values.items():
        new = new_values[name]
        if name in RESUME_IGNORED_FIELDS or old == new:
            continue
        if name in RESUME_GROWABLE_FIELDS and new > old:
            continue
        diffs.append(f"{name}: saved {old!r}, now {new!r}")
    return diffs


# The main job (README, "What the main job gives"): the default model (a 2-layer MinGRU, 128/256, batch 32, with
# program recall 64 wide) on fresh programs of the ladder (levels 0, 8), TinyPy (4-7) and the full constructs
# (1-3), for 450 s of wall clock, so that data, training and evaluation fit 10 minutes on a 2-core CPU. The
# mastery curriculum trains the ladder and TinyPy from the start, spends compute by error and admits levels 1-3 as
# the others are learned or stall. Chosen by experiments.bench_learning at equal wall-clock budgets
# (results/README.md, "Learning efficiency"). `--time_budget_s 0 --steps N` trains a step-exact run instead.
DEFAULT = TrainConfig(stream=True, levels="0,8,4,5,6,7,1,2,3", curriculum="mastery", mastery_start=6,
                      recall_dim=64, eval_interval=100, heldout_per_level=300, steps=100_000, time_budget_s=450.0)

# The same recipe for 20 minutes of training (within half an hour of a 2-core CPU, evaluation included).
LONG = DEFAULT.replace(time_budget_s=1200.0)

# One GPU hour, not yet run on a GPU: a wider, deeper hybrid (attention helps most
# per step in the study, and costs little on a GPU), batch 256, more generator processes.
GPU = DEFAULT.replace(time_budget_s=3600.0, batch_size=256, embed_dim=256, hidden_dim=1024, num_layers=4,
                      attention=True, num_heads=8, lr=1e-3, stream_workers=8, eval_interval=500)

# The dissertation's run (its section 5.4 and Table 4.1): one block, embedding 500, hidden 900, dropout 0.5,
# label smoothing 0.2, AdamW weight decay 1e-3, lr 9.9e-5, batch 128, 3000 iterations, reduce-on-plateau
# (factor 0.5, patience 10 validations). The cell follows ModelConfig.paper (mingru); --cell picks another.
PAPER = TrainConfig(
    model=ModelConfig.paper(vocab_size=0),
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

PRESETS: dict[str, TrainConfig] = {"default": DEFAULT, "paper": PAPER, "long": LONG, "gpu": GPU}
