"""Training: config and presets, optimizer, batching, curriculum, jit train step, sharding, checkpoints, loop.

`TrainConfig` and `PRESETS` import without JAX (flag parsing stays fast); the JAX-side names load lazily on
first use.
"""

from jaxlua._lazy import lazy_exports
from jaxlua.train.config import PRESETS, TrainConfig

_LAZY = {
    "train": "jaxlua.train.loop",
    "TrainResult": "jaxlua.train.loop",
    "TrainingDivergedError": "jaxlua.train.loop",
    "TrainState": "jaxlua.train.step",
    "make_train_step": "jaxlua.train.step",
    "make_eval_step": "jaxlua.train.step",
    "make_optimizer": "jaxlua.train.optimizer",
    "DataParallel": "jaxlua.train.sharding",
    "Checkpoints": "jaxlua.train.checkpoint",
    "load_for_inference": "jaxlua.train.checkpoint",
    "ResumeMismatchError": "jaxlua.train.checkpoint",
    "BatchSampler": "jaxlua.train.curriculum",
    "Curriculum": "jaxlua.train.curriculum",
    "run_experiment": "jaxlua.train.run",
    "EvalOptions": "jaxlua.train.run",
}

__all__ = ["PRESETS", "TrainConfig"] + sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
