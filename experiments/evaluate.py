"""Evaluate a trained run: every contract metric into a metrics file in WORKDIR, and a markdown table.

    python -m experiments.evaluate --workdir runs/default [--split test|val|train|all] [--limit N] [--num_samples 10]

The split comes from the run's own dataset (its saved TrainConfig.data_dir; the built-in dataset when
that is empty) unless --data_dir says otherwise, encoded with the run's tokenizer settings, vocabulary and
max_len. The run's own test split, every program, writes metrics.json (the contract's file); any other dataset,
split or --limit writes a file named after it (jaxlua.workdir_files.metrics_filename), so the run's own results
are never replaced. Beside the metrics file goes its predictions file (metrics.json -> predictions.jsonl,
metrics_<x>.json -> predictions_<x>.jsonl): one JSON line per program with its source, true and predicted
stdout, exact match, level and constructs. `--split all` scores every record of the dataset folder (train, val
and test together, e.g. an imported folder of hand-written programs). Flags (and that the workdir is writable)
are checked before anything is loaded: a bad one is one line on stderr and exit code 2. The workdir is locked
while the evaluation runs.
"""
from __future__ import annotations

import pathlib

from absl import flags

from jaxlua.cli.flags import FlagError, config_of_flags, define_flags_of, fail, run
from jaxlua.cli.workdir import TrainedRun, WorkdirLock, check_run_dir
from jaxlua.config import EVALUATE, EvalConfig


def define_flags() -> None:
    """Declare the flags (only when run as a script, so both scripts can be imported together): `--workdir` and
    one per EvalConfig setting, defaults from the EVALUATE preset."""
    define_flags_of(TrainedRun)
    define_flags_of(EvalConfig, EVALUATE)


FLAGS = flags.FLAGS


def parse_args(values) -> tuple[pathlib.Path, EvalConfig]:
    """(workdir, evaluation) from flag values (an absl FlagValues or any object with the same attributes),
    validated; FlagError naming the first bad flag."""
    workdir = check_run_dir(config_of_flags(TrainedRun, values).workdir, writable=True)
    evaluation = config_of_flags(EvalConfig, values, EVALUATE)
    if evaluation.data_dir and not pathlib.Path(evaluation.data_dir).expanduser().is_dir():
        raise FlagError(f"--data_dir {evaluation.data_dir} is not a directory")
    return workdir, evaluation


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        workdir, evaluation = parse_args(FLAGS)
    except FlagError as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    from jaxlua.cli.experiment import BAD_INPUT_ERRORS
    from jaxlua.cli.run_eval import evaluate_run
    from jaxlua.eval.evaluator import format_metrics_table

    try:
        with WorkdirLock(workdir, "evaluate"):
            metrics = evaluate_run(workdir, evaluation)
    except BAD_INPUT_ERRORS as exc:
        fail(exc)
    print(format_metrics_table(metrics))
    print(f"\nwrote {metrics['file']} and {metrics['predictions_file']}")


if __name__ == "__main__":
    define_flags()
    run(main)
