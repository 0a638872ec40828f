"""The configuration of jaxlua: registries of names, validated config dataclasses, their flags, and presets.

JAX-free (flag parsing, dataset tools and the NumPy side import it). One concept per module:

  registries  every name a user can choose (cells, model kinds, scan methods, tokenizer options, ...)
  fields      `config_field` (help and constraint beside each field) and `ConfigBase` (validation on
              construction, replace, JSON, settings by flag name)
  model, tokenizer, training, evaluation
              `ModelConfig`, `TokenizerConfig`, `TrainConfig` (holding the other two), `EvalConfig`
  flags       what the flags of a config are, derived from its fields
  migration   older config.json formats read into today's shape
  presets     named configurations: DEFAULT, LONG, GPU, PAPER (`PRESETS`), EVALUATE

Which settings may change when a run resumes is a rule of the checkpoints: `jaxlua.train.resume_rules`.
"""
from jaxlua.config.evaluation import EvalConfig
from jaxlua.config.fields import ConfigBase, FieldError, config_field
from jaxlua.config.flags import field_of, flag_choices, flag_fields, flag_help, item_type
from jaxlua.config.model import ModelConfig
from jaxlua.config.presets import DEFAULT, EVALUATE, GPU, LONG, PAPER, PRESETS
from jaxlua.config.registries import (
    CELLS,
    CURRICULA,
    CURRICULUM_ADVANCE,
    DIGIT_ORDERS,
    DTYPES,
    EVAL_SPLITS,
    IDENTIFIER_STYLES,
    MODELS,
    SCAN_METHODS,
    SCHEDULES,
    TARGETS,
    TOKENIZER_MODES,
    check_model_name,
    model_names,
)
from jaxlua.config.tokenizer import TokenizerConfig
from jaxlua.config.training import TrainConfig

__all__ = [
    "CELLS", "CURRICULA", "CURRICULUM_ADVANCE", "ConfigBase", "DEFAULT", "DIGIT_ORDERS", "DTYPES", "EVALUATE",
    "EVAL_SPLITS", "EvalConfig", "FieldError", "GPU", "IDENTIFIER_STYLES", "LONG", "MODELS", "ModelConfig", "PAPER",
    "PRESETS", "SCAN_METHODS", "SCHEDULES", "TARGETS", "TOKENIZER_MODES", "TokenizerConfig", "TrainConfig",
    "check_model_name", "config_field", "field_of", "flag_choices", "flag_fields", "flag_help", "item_type",
    "model_names",
]
