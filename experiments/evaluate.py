"""Evaluate a trained run: every contract metric into a metrics file in WORKDIR, and a markdown table.

    python -m experiments.evaluate --workdir runs/default [--split test|val|train|all] [--limit N] [--num_samples 10]

The split comes from the run's own dataset (its saved TrainConfig.data_dir; the built-in dataset when
that is empty) unless --data_dir says otherwise, encoded with the run's tokenizer settings, vocabulary and
max_len. The run's own test split, every program, writes metrics.json (the contract's file); any other dataset,
split or --limit writes a file named after it (jaxlua.cli.workdir.metrics_filename), so the run's own results
are never replaced. Beside the metrics file goes its predictions file (metrics.json -> predictions.jsonl,
metrics_<x>.json -> predictions_<x>.jsonl): one JSON line per program with its source, true and predicted
stdout, exact match, level and constructs. `--split all` scores every record of the dataset folder (train, val
and test together, e.g. an imported folder of hand-written programs). Flags (and that the workdir is writable)
are checked before anything is loaded: a bad one is one line on stderr and exit code 2. The workdir is locked
while the evaluation runs.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import time

from absl import flags

from jaxlua.cli.flags import FlagError, fail, run
from jaxlua.cli.workdir import WorkdirLock, check_run_dir, metrics_filename

SPLITS = ("train", "val", "test", "all")  # "all": every record of the dataset folder, its three splits together


def define_flags() -> None:
    """Declare the flags (only when run as a script, so both scripts can be imported together)."""
    flags.DEFINE_string("workdir", None, "Training workdir holding the checkpoints, config and vocabulary.")
    flags.DEFINE_string("split", "test", f"Dataset split to evaluate: one of {', '.join(SPLITS)}.")
    flags.DEFINE_string("data_dir", None, "Dataset directory; default: the one the run was trained on.")
    flags.DEFINE_integer("limit", None, "Evaluate only the first N programs of the split.")
    flags.DEFINE_integer("num_samples", 10, "Sampled outputs per program for pass@k (k in 1, 5, 10); 0: greedy only.")
    flags.DEFINE_float("temperature", 0.8, "Sampling temperature for pass@k.")
    flags.DEFINE_integer("batch_size", 32, "Programs decoded per batch.")
    flags.DEFINE_integer("max_new_tokens", None, "Output length cap; default: until EOS or max_len.")
    flags.DEFINE_integer("latency_programs", 32, "Programs timed one by one for latency_ms_p50/p95; 0: skip.")
    flags.DEFINE_integer("seed", 0, "Seed for sampling and for the latency sample.")


FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class EvaluateArgs:
    """The validated flags of one evaluation."""

    workdir: pathlib.Path
    split: str = "test"
    data_dir: pathlib.Path | None = None
    limit: int | None = None
    num_samples: int = 10
    temperature: float = 0.8
    batch_size: int = 32
    max_new_tokens: int | None = None
    latency_programs: int = 32
    seed: int = 0


def parse_args(values) -> EvaluateArgs:
    """Validate flag values (an absl FlagValues or any object with the same attributes)."""
    workdir = check_run_dir(values.workdir, writable=True)
    if values.split not in SPLITS:
        raise FlagError(f"--split must be one of {', '.join(SPLITS)}; got {values.split!r}")
    data_dir = None
    if values.data_dir:
        data_dir = pathlib.Path(values.data_dir).expanduser()
        if not data_dir.is_dir():
            raise FlagError(f"--data_dir {values.data_dir} is not a directory")
    if values.limit is not None and values.limit < 1:
        raise FlagError(f"--limit must be >= 1; got {values.limit}")
    if values.num_samples < 0:
        raise FlagError(f"--num_samples must be >= 0; got {values.num_samples}")
    if values.num_samples > 0 and not values.temperature > 0:
        raise FlagError(f"--temperature must be > 0 when sampling; got {values.temperature}")
    if values.batch_size < 1:
        raise FlagError(f"--batch_size must be >= 1; got {values.batch_size}")
    if values.max_new_tokens is not None and values.max_new_tokens < 1:
        raise FlagError(f"--max_new_tokens must be >= 1; got {values.max_new_tokens}")
    if values.latency_programs < 0:
        raise FlagError(f"--latency_programs must be >= 0; got {values.latency_programs}")
    return EvaluateArgs(workdir=workdir, split=values.split, data_dir=data_dir, limit=values.limit,
                        num_samples=values.num_samples, temperature=values.temperature,
                        batch_size=values.batch_size, max_new_tokens=values.max_new_tokens,
                        latency_programs=values.latency_programs, seed=values.seed)


def evaluate(args: EvaluateArgs) -> dict:
    """Load the run, encode the split, evaluate, write the metrics file; returns the metrics."""
    # pylint: disable=import-outside-toplevel
    from absl import logging

    from jaxlua.cli.experiment import load_run
    from jaxlua.data import dataset_fingerprint, load_split
    from jaxlua.data.splits import DatasetError
    from jaxlua.data.default import cache_root, default_dataset_dir
    from jaxlua.eval.evaluator import evaluate_split, write_metrics, write_predictions
    from jaxlua.train.inputs import check_fits, encode_split, load_records

    start = time.perf_counter()
    model, config, vocab, tokenizer = load_run(args.workdir)
    max_len = config.model.max_len
    if config.stream and args.data_dir is None:  # the stream's fixed seeded held-out set, regenerated
        from jaxlua.train.stream_inputs import stream_heldout

        try:
            records, dataset = stream_heldout(config, vocab, args.split)
        except ValueError as exc:
            raise FlagError(str(exc)) from None
        data_dir, fingerprint = f"stream:{config.levels}", json.loads(
            (args.workdir / "dataset.json").read_text(encoding="utf-8")).get("fingerprint")
        filename = metrics_filename(args.split, None, args.limit)
    else:
        own_dir = pathlib.Path(config.data_dir).expanduser() if config.data_dir else default_dataset_dir()
        data_dir = args.data_dir or own_dir
        records = ([r for split in SPLITS[:-1] for r in load_split(data_dir, split)] if args.split == "all"
                   else load_records(data_dir, args.split))
        if not records:
            raise DatasetError(f"{data_dir} holds no program in any split; rebuild it with experiments.make_dataset")
        fingerprint = dataset_fingerprint(data_dir)
        try:
            own = not config.stream and fingerprint == dataset_fingerprint(own_dir)
        except FileNotFoundError:  # the run's own dataset is gone: --data_dir is another one
            own = False
        filename = metrics_filename(args.split, None if own else f"{data_dir.resolve().name}-{fingerprint[:8]}",
                                    args.limit)
        dataset = encode_split(records, config, tokenizer, vocab, f"{data_dir} ({args.split})",
                               cache_dir=cache_root() / "encoded")
        check_fits(args.split, records, dataset, tokenizer, max_len)
    logging.info("evaluating %d %s programs of %s", len(dataset), args.split, data_dir)
    evaluation = evaluate_split(model, dataset, tokenizer, vocab, records=records, batch_size=args.batch_size,
                                max_new_tokens=args.max_new_tokens, num_samples=args.num_samples,
                                temperature=args.temperature, seed=args.seed, limit=args.limit,
                                latency_programs=args.latency_programs, targets=config.targets)
    metrics = evaluation.metrics
    metrics.update(split=args.split, data_dir=str(data_dir), workdir=str(args.workdir),
                   dataset_fingerprint=fingerprint, limit=args.limit, encode_report=dataset.report,
                   cell=config.model.cell, tokenizer=config.tokenizer.to_dict(),
                   eval_seconds=time.perf_counter() - start)
    previous = args.workdir / filename
    if previous.is_file():  # keep the training summary that experiments.train stored beside the metrics
        try:
            train_summary = json.loads(previous.read_text(encoding="utf-8")).get("train")
        except (json.JSONDecodeError, AttributeError):
            train_summary = None
        if train_summary is not None:
            metrics["train"] = train_summary
    write_metrics(args.workdir, metrics, filename=filename)
    predictions = write_predictions(args.workdir, evaluation.predictions, filename)
    metrics["file"] = str(args.workdir / filename)
    metrics["predictions_file"] = str(predictions)
    return metrics


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        args = parse_args(FLAGS)
    except FlagError as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    from jaxlua.cli.experiment import BAD_INPUT_ERRORS
    from jaxlua.eval.evaluator import format_metrics_table

    try:
        with WorkdirLock(args.workdir, "evaluate"):
            metrics = evaluate(args)
    except BAD_INPUT_ERRORS as exc:
        fail(exc)
    print(format_metrics_table(metrics))
    print(f"\nwrote {metrics['file']} and {metrics['predictions_file']}")


if __name__ == "__main__":
    define_flags()
    run(main)
