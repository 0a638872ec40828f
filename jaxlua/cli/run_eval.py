"""Evaluate a trained run after training: load its best checkpoint, open the split, score it, write the files.

The split comes from `jaxlua.data.run_data.eval_split` (the run's own dataset or stream held-out set, or another
dataset). The run's own test split, every program, writes metrics.json (the contract's file); any other dataset,
split or limit writes a file named after it (`jaxlua.workdir_files.metrics_filename`), so the run's own results are
never replaced, and beside it goes its predictions file. Used by `experiments/evaluate.py` and
`experiments/study.py`; the caller holds the workdir lock.
"""
from __future__ import annotations

import json
import pathlib
import time

from absl import logging

from jaxlua.cli.experiment import load_run
from jaxlua.cli.flags import FlagError
from jaxlua.config import EvalConfig
from jaxlua.data.default import cache_root
from jaxlua.data.run_data import SplitError, eval_split
from jaxlua.eval.evaluator import evaluate_split, write_metrics, write_predictions
from jaxlua.workdir_files import metrics_filename


def evaluate_run(workdir: pathlib.Path, evaluation: EvalConfig) -> dict:
    """Evaluates the run in `workdir` as `evaluation` says and writes its metrics and predictions files; returns
    the metrics, with `file` and `predictions_file` naming what was written. An unset `evaluation.seed` is the
    run's own seed."""
    start = time.perf_counter()
    model, config, vocab, tokenizer = load_run(workdir)
    data_dir = pathlib.Path(evaluation.data_dir).expanduser() if evaluation.data_dir else None
    try:
        data = eval_split(config, tokenizer, vocab, evaluation.split, workdir, data_dir,
                          cache_dir=cache_root() / "encoded")
    except SplitError as exc:
        raise FlagError(str(exc)) from None
    filename = metrics_filename(evaluation.split, data.other_dataset, evaluation.limit)
    logging.info("evaluating %d %s programs of %s", len(data.dataset), evaluation.split, data.source)
    scored = evaluate_split(model, data.dataset, tokenizer, vocab, records=data.records,
                            **evaluation.decoding(config.seed), targets=config.targets)
    metrics = scored.metrics
    metrics.update(split=evaluation.split, data_dir=data.source, workdir=str(workdir),
                   dataset_fingerprint=data.fingerprint, limit=evaluation.limit, encode_report=data.dataset.report,
                   cell=config.model.cell, tokenizer=config.tokenizer.to_dict(),
                   eval_seconds=time.perf_counter() - start)
    previous = workdir / filename
    if previous.is_file():  # keep the training summary that experiments.train stored beside the metrics
        try:
            train_summary = json.loads(previous.read_text(encoding="utf-8")).get("train")
        except (json.JSONDecodeError, AttributeError):
            train_summary = None
        if train_summary is not None:
            metrics["train"] = train_summary
    write_metrics(workdir, metrics, filename=filename)
    predictions = write_predictions(workdir, scored.predictions, filename)
    metrics["file"] = str(workdir / filename)
    metrics["predictions_file"] = str(predictions)
    return metrics
