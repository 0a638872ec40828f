"""One experiment end to end: dataset -> vocabulary and arrays -> train (or resume) -> evaluate -> metrics.json.

Shared by `experiments/train.py` (one run) and `experiments/sweep.py` (a grid of runs).
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Any

from absl import logging

from jaxlua.train.checkpoint import check_resume, load_for_inference
from jaxlua.train.config import TrainConfig
from jaxlua.train.inputs import prepare_data, resolve_data_dir
from jaxlua.train.loop import train


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """How the trained model is evaluated on the test split (see jaxlua.eval.evaluate_model)."""

    enabled: bool = True
    limit: int | None = None
    num_samples: int = 0
    temperature: float = 0.8
    batch_size: int = 64
    latency_programs: int = 32


def run_experiment(
    config: TrainConfig, workdir: str | pathlib.Path, eval_options: EvalOptions = EvalOptions(), progress: bool = True
) -> dict[str, Any]:
    """Trains `config` in `workdir` (resuming if a checkpoint is there), evaluates the best checkpoint on the
    test split and writes workdir/metrics.json; returns the metrics (with a "train" summary added)."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data import dataset_fingerprint
    from jaxlua.data.default import cache_root
    from jaxlua.eval import evaluate_model, write_metrics

    workdir = pathlib.Path(workdir)
    data_dir = resolve_data_dir(config.data_dir)
    check_resume(workdir, config, dataset_fingerprint(data_dir))
    data = prepare_data(config, data_dir, vocab_path=workdir / "vocab.json", cache_dir=cache_root() / "encoded")
    begin = time.perf_counter()
    result = train(config, workdir, data.train, data.val, vocab=data.vocab, dataset_info=data.info, progress=progress)
    train_seconds = time.perf_counter() - begin
    summary = {
        "steps": config.steps,
        "resumed_from_step": result.start_step,
        "seconds": round(train_seconds, 1),
        "best_val_loss": result.best_val_loss,
        "final_val": result.history[-1] if result.history else None,
        "dataset": data.info,
        "config": config.to_dict(),
    }
    if not eval_options.enabled:
        return {"train": summary}
    model, _, vocab, tokenizer = load_for_inference(workdir)
    logging.info("evaluating on %d test programs", len(data.test) if eval_options.limit is None else eval_options.limit)
    metrics = evaluate_model(
        model,
        data.test,
        tokenizer,
        vocab,
        records=data.test_records,
        batch_size=eval_options.batch_size,
        num_samples=eval_options.num_samples,
        temperature=eval_options.temperature,
        seed=config.seed,
        limit=eval_options.limit,
        latency_programs=eval_options.latency_programs,
        progress=progress,
    )
    metrics["train"] = summary
    write_metrics(workdir, metrics)
    return metrics
