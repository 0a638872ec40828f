"""One experiment end to end, above both train/ and eval/: dataset -> vocabulary and arrays -> train (or resume)
-> evaluate -> metrics.json; and loading a trained run for evaluation or prediction.

Shared by `experiments/train.py` (one run), `experiments/sweep.py` (a grid of runs), `experiments/evaluate.py`
and `experiments/predict.py`.
"""
from __future__ import annotations

import contextlib
import pathlib
import signal
import time
from typing import Any

from absl import logging

from jaxlua.cli.flags import FlagError
from jaxlua.cli.workdir import WorkdirBusyError, WorkdirLock, check_not_orphaned
from jaxlua.config import EvalConfig, TrainConfig
from jaxlua.data import dataset_fingerprint
from jaxlua.data.default import cache_root
from jaxlua.data.run_data import resolve_data_dir
from jaxlua.data.splits import DatasetError
from jaxlua.eval.evaluator import evaluate_split, write_metrics, write_predictions
from jaxlua.train.checkpoint import load_for_inference
from jaxlua.train.distributed import is_main_process
from jaxlua.train.loop import loop_running, request_stop, train
from jaxlua.train.model_state import count_params
from jaxlua.train.resume_rules import ResumeMismatchError, check_resume
from jaxlua.train.sources import open_training_data
from jaxlua.workdir_files import CONFIG_FILE


# What the scripts report as one line and exit code 2 (bad input, never a bug): a bad flag, a dataset that is
# missing, unreadable or empty or whose programs all exceed max_len, a run or split file that is not there
# (NoIntactCheckpointError included), a workdir holding another run or in use by one.
BAD_INPUT_ERRORS: tuple[type[Exception], ...] = (
    FlagError, DatasetError, FileNotFoundError, ResumeMismatchError, WorkdirBusyError,
)


def interrupt_on_sigterm() -> None:
    """Ctrl-C and SIGTERM ask the training loop to stop after its current step (so no checkpoint save is cut
    short); a second signal, or one outside the step loop (data preparation, evaluation), interrupts at once."""

    def handler(signum: int, frame: Any) -> None:
        if _STOP_REQUESTED or not loop_running():
            raise KeyboardInterrupt(f"signal {signum}")
        _STOP_REQUESTED.append(signum)
        request_stop()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


_STOP_REQUESTED: list[int] = []


def log_steps_growth(workdir: pathlib.Path, config: TrainConfig) -> None:
    """Says so when a resumed run continues to a larger --steps than it was started with."""
    path = workdir / CONFIG_FILE
    if path.exists():
        saved = TrainConfig.from_json(path.read_text())
        if config.steps > saved.steps:
            logging.warning("steps grows from %d to %d: the learning-rate schedule now follows the new total",
                            saved.steps, config.steps)


def run_experiment(
    config: TrainConfig, workdir: str | pathlib.Path, evaluation: EvalConfig | None = EvalConfig(),
    progress: bool = True,
) -> dict[str, Any]:
    """Trains `config` in `workdir` (resuming if a checkpoint is there), evaluates the best checkpoint on the
    test split as `evaluation` says and writes workdir/metrics.json and predictions.jsonl; returns the metrics
    (with a "train" summary added). `evaluation=None` trains only and returns {"train": summary}.

    The workdir is checked (no orphaned checkpoints, same configuration and dataset) before anything is written
    to it, and locked while the run lasts. Past one process (jaxlua.train.distributed) every process trains and
    evaluates, and process 0 alone takes the lock, shows progress and writes the files.
    """
    workdir = pathlib.Path(workdir)
    if evaluation is not None and (evaluation.split != "test" or evaluation.data_dir is not None):
        raise ValueError("the evaluation after training scores the run's own test split; evaluate another split "
                         "or dataset with experiments.evaluate")
    main = is_main_process()
    progress = progress and main
    fingerprint = None if config.stream else dataset_fingerprint(resolve_data_dir(config.data_dir))
    if workdir.is_dir():
        check_not_orphaned(workdir)
    check_resume(workdir, config, fingerprint)
    with WorkdirLock(workdir, "train") if main else contextlib.nullcontext():
        log_steps_growth(workdir, config)
        # a stream's workers end with this block
        with open_training_data(config, workdir, cache_root() / "encoded", progress) as (data, source):
            begin = time.perf_counter()
            result = train(config, workdir, source, data.val, vocab=data.vocab, dataset_info=data.info,
                           progress=progress)
        summary = {
            "steps": result.end_step,
            "params": count_params(result.state.params),
            "resumed_from_step": result.start_step,
            "seconds": round(time.perf_counter() - begin, 1),
            "best_val_loss": result.best_val_loss,
            "final_val": result.history[-1] if result.history else None,
            "dataset": data.info,
            "data_pipeline": result.data_scalars,
            "config": config.to_dict(),
        }
        if evaluation is None:
            return {"train": summary}
        model, _, vocab, tokenizer = load_for_inference(workdir)
        logging.info("evaluating on %d test programs",
                     len(data.test) if evaluation.limit is None else evaluation.limit)
        scored = evaluate_split(model, data.test, tokenizer, vocab, records=data.test_records,
                                **evaluation.decoding(config.seed), progress=progress, targets=config.targets)
        metrics = scored.metrics
        metrics["train"] = summary
        if main:
            write_metrics(workdir, metrics)
            write_predictions(workdir, scored.predictions)
    return metrics


def quiet_orbax_info_logs() -> None:
    """Drop orbax's INFO lines (several per checkpoint save) from absl's log; its warnings and errors stay."""
    import logging as std_logging  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel

    def keep(record: std_logging.LogRecord) -> bool:
        return record.levelno >= std_logging.WARNING or f"{os.sep}orbax{os.sep}" not in record.pathname

    logging.get_absl_handler().addFilter(keep)


def load_run(workdir: pathlib.Path) -> tuple[Any, TrainConfig, Any, Any]:
    """(model, train_config, vocab, tokenizer) of a trained run; FileNotFoundError when it has none."""
    quiet_orbax_info_logs()
    return load_for_inference(workdir)
