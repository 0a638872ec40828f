"""Training: optimizer, batching, curriculum, jit train step, sharding, checkpoints, the loop (JAX side).

The configuration is `jaxlua.config` (JAX-free; `TrainConfig` and `PRESETS` are re-exported here). Running an
experiment end to end (train, then evaluate) is `jaxlua.cli.experiment.run_experiment`.
"""
from jaxlua.config import PRESETS, TrainConfig
from jaxlua.train.checkpoint import Checkpoints, load_for_inference
from jaxlua.train.curriculum import BatchSampler, Curriculum
from jaxlua.train.loop import TrainingDivergedError, TrainingInterrupted, TrainResult, train
from jaxlua.train.optimizer import make_optimizer
from jaxlua.train.resume_rules import ResumeMismatchError
from jaxlua.train.sharding import DataParallel
from jaxlua.train.sources import BatchSource, FixedSource, StreamSource
from jaxlua.train.step import TrainState, make_eval_step, make_train_step

__all__ = [
    "BatchSampler", "BatchSource", "Checkpoints", "Curriculum", "DataParallel", "FixedSource", "PRESETS", "ResumeMismatchError", "StreamSource", "TrainConfig",
    "TrainResult", "TrainState", "TrainingDivergedError", "TrainingInterrupted", "load_for_inference",
    "make_eval_step", "make_optimizer", "make_train_step", "train",
]
