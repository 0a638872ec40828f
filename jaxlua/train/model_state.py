"""Building the model a TrainConfig describes and the initial TrainState around it."""

from __future__ import annotations

import dataclasses
from typing import Any

from flax import nnx

from jaxlua.train.config import TrainConfig
from jaxlua.train.optimizer import make_optimizer, make_plateau
from jaxlua.train.step import TrainState, init_state, split_model


@dataclasses.dataclass(frozen=True)
class Graphs:
    """The static halves of the model: with dropout (training) and without (evaluation)."""

    train_def: nnx.GraphDef
    eval_def: nnx.GraphDef


def build_model(config: TrainConfig, vocab_size: int) -> nnx.Module:
    """The registry model for `config`, initialised from `config.seed` (same seed, same parameters)."""
    from jaxlua.models import build  # pylint: disable=import-outside-toplevel

    rngs = nnx.Rngs(config.seed, params=config.seed, dropout=config.seed + 1)
    return build(config.model_config(vocab_size), rngs)


def initial_train_state(model: nnx.Module, config: TrainConfig) -> tuple[TrainState, Graphs]:
    """The step-0 TrainState of `model` (every nnx.Param trainable) and its two graph definitions."""
    train_def, eval_def, params, rest = split_model(model)
    state = init_state(params, rest, make_optimizer(config), make_plateau(config))
    return state, Graphs(train_def, eval_def)


def count_params(params: Any) -> int:
    """Number of scalars in a parameter tree."""
    import jax  # pylint: disable=import-outside-toplevel

    return int(sum(leaf.size for leaf in jax.tree.leaves(params)))
