"""`EvalConfig`: how a trained run is evaluated, the one shape of the evaluation settings.

The evaluation at the end of training (`jaxlua.cli.experiment.run_experiment`), `experiments.evaluate`,
`experiments.sweep` and `experiments.study` all take an `EvalConfig`; its fields are their evaluation flags
(`--limit`, `--num_samples`, ... or `--eval_limit`, ... after training), and it validates on construction, so a
bad setting is refused once, before anything is loaded.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from jaxlua.config.fields import ConfigBase as _Config
from jaxlua.config.fields import FieldError
from jaxlua.config.fields import config_field as _field
from jaxlua.config.registries import EVAL_SPLITS


def check_split(name: str) -> str:
    """Returns `name`, or raises FieldError listing the splits an evaluation reads."""
    if name not in EVAL_SPLITS:
        raise FieldError("split", f"must be one of {', '.join(EVAL_SPLITS.names())}; got {name!r}")
    return name


@dataclasses.dataclass(frozen=True)
class EvalConfig(_Config):
    """Which programs a trained run is scored on, and how it decodes them (jaxlua.eval.evaluator.evaluate_split).

    The defaults are the evaluation after training (greedy only, the run's own test split); `seed` unset means
    the training run's seed. `split` and `data_dir` choose other programs, which only `experiments.evaluate`
    reads: the evaluation after training always scores the run's own test split.
    """

    split: str = _field("test", "Dataset split to evaluate.", choices=EVAL_SPLITS, check=check_split)
    data_dir: str | None = _field(None, "Dataset directory; default: the one the run was trained on.")
    limit: int | None = _field(None, "Evaluate only the first N programs of the split.", low=1)
    num_samples: int = _field(0, "Sampled outputs per program for pass@k (k in 1, 5, 10); 0: greedy only.", low=0)
    temperature: float = _field(0.8, "Sampling temperature for pass@k.")
    batch_size: int = _field(64, "Programs decoded per batch.", low=0, low_open=True)
    max_new_tokens: int | None = _field(None, "Output length cap; default: until EOS or max_len.", low=1)
    latency_programs: int = _field(32, "Programs timed one by one for latency_ms_p50/p95; 0: skip.", low=0)
    seed: int | None = _field(None, "Seed for sampling and for the latency sample (unset: the run's seed).")

    def _check_together(self) -> None:
        if self.num_samples > 0 and not self.temperature > 0:
            raise FieldError("temperature", f"must be > 0 when sampling; got {self.temperature}")

    def decoding(self, run_seed: int) -> dict[str, Any]:
        """The keyword arguments of `evaluate_split` these settings give, `seed` falling back to `run_seed`."""
        return dict(batch_size=self.batch_size, max_new_tokens=self.max_new_tokens, num_samples=self.num_samples,
                    temperature=self.temperature, seed=run_seed if self.seed is None else self.seed,
                    limit=self.limit, latency_programs=self.latency_programs)
