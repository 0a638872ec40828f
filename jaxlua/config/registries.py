"""The registries of names: every name a user can choose, written once.

Cells, model kinds, scan methods, tokenizer modes and options, targets, dtypes, schedules, curricula and the
splits an evaluation reads are each one `Registry`; validation, flag help, sweeps, benches and tests read the
names from here, so adding one is a `register` call. Entries are "module:attribute" paths imported on first
use, so this module stays free of JAX.
"""
from __future__ import annotations

from jaxlua.registry import Registry

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
TARGETS.register("trace_output", None, "The model writes the execution trace, <OUT>, then the output (the "
                                       "stream records traces; a fixed dataset needs make_dataset --trace); scored "
                                       "on the output alone.")

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

# The splits an evaluation reads; "all" is every record of the dataset folder, its three splits together.
EVAL_SPLITS = Registry("split")
EVAL_SPLITS.register("train", None, "The training split.")
EVAL_SPLITS.register("val", None, "The validation split.")
EVAL_SPLITS.register("test", None, "The test split.")
EVAL_SPLITS.register("all", None, "Every record of the dataset folder (train, val and test together).")


def model_names() -> tuple[str, ...]:
    """Every value `cell` accepts: the registered cells, then the other model kinds."""
    return CELLS.names() + MODELS.names()


def check_model_name(name: str) -> str:
    """Returns `name`, or raises ValueError listing `model_names()`."""
    if name not in CELLS and name not in MODELS:
        raise ValueError(f"unknown cell {name!r}; choose one of {', '.join(model_names())}")
    return name
