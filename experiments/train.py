r"""Train a model, evaluate it on the test split, print the metrics table.

    python -m experiments.train --workdir runs/default [--data_dir DIR] [--preset default|paper] \
        [--cell gru] [--steps N] [--seed S] [any TrainConfig field as --name=value]

Every TrainConfig field is a flag; a flag left unset keeps the preset's value. Running the same command again
resumes from the workdir's latest checkpoint (a different configuration or dataset is refused). Flags are
validated before any data is loaded or anything compiled: a bad value prints one line and exits with code 2.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
import typing

from absl import app, flags

from jaxlua.train.cli import FlagError, check_writable_dir, fail
from jaxlua.train.config import PRESETS, TrainConfig

_HELP = {
    "cell": "Recurrent cell: rnn, lstm, gru, mingru, minlstm, or the transformer baseline.",
    "embed_dim": "Token embedding size.",
    "hidden_dim": "Hidden state size of the cell.",
    "num_layers": "Number of stacked blocks.",
    "num_experts": "Mixture-of-experts count (0 = off).",
    "moe_top_k": "Experts used per token (0 = dense, every expert).",
    "attention": "Add self-attention.",
    "num_heads": "Attention heads.",
    "dropout": "Dropout rate.",
    "dtype": "Compute dtype: float32 or bfloat16.",
    "scan_method": "Linear-scan backend of the min cells (auto, sequential, associative, heinsen, pallas).",
    "data_dir": "Dataset directory (train/val/test.jsonl); default: the built-in dataset.",
    "tokenizer_mode": "Tokenizer: semantic, paper or chars.",
    "max_len": "Longest encoded sequence kept.",
    "num_buckets": "Length buckets (static batch shapes).",
    "val_max_examples": "Validation programs used for the in-loop validation loss and exact match.",
    "batch_size": "Programs per batch (divisible by the device count).",
    "steps": "Training steps.",
    "lr": "Peak learning rate.",
    "weight_decay": "AdamW weight decay.",
    "b1": "Adam beta1.",
    "b2": "Adam beta2.",
    "label_smoothing": "Label smoothing of the cross-entropy.",
    "clip_norm": "Global gradient-norm clip (0 = off).",
    "include_program_loss": "Also train on predicting the program tokens (TEX did).",
    "aux_loss_weight": "Weight of the MoE load-balancing loss.",
    "schedule": "Learning-rate schedule: cosine or plateau.",
    "warmup_steps": "Linear warmup steps.",
    "min_lr_ratio": "Final cosine learning rate as a fraction of --lr.",
    "plateau_factor": "Reduce-on-plateau factor.",
    "plateau_patience": "Reduce-on-plateau patience (evaluations).",
    "curriculum": "Curriculum: none, sequential or blend.",
    "curriculum_advance": "Advance a stage after a step count (steps) or at a validation exact match (exact_match).",
    "curriculum_stage_steps": "Steps per stage (0 = steps split evenly).",
    "curriculum_em_threshold": "Validation exact match that advances the stage.",
    "blend_fraction": "Share of batches from all stages in the blend curriculum.",
    "eval_interval": "Steps between validations.",
    "checkpoint_interval": "Steps between checkpoints.",
    "log_interval": "Steps between logged scalars.",
    "max_to_keep": "Periodic checkpoints kept.",
    "seed": "Seed of parameters, batches and dropout.",
}

flags.DEFINE_string("workdir", None, "Run directory (checkpoints, logs, metrics); default runs/<preset>-<cell>.")
flags.DEFINE_enum("preset", "default", sorted(PRESETS), "Named hyperparameter preset.")
flags.DEFINE_bool("eval", True, "Evaluate the best checkpoint on the test split at the end.")
flags.DEFINE_integer("eval_limit", None, "Evaluate only the first N test programs.")
flags.DEFINE_integer("eval_num_samples", 0, "Sampled outputs per program for pass@k (0: pass@1 = greedy EM).")
flags.DEFINE_integer("eval_batch_size", 64, "Programs decoded per batch in the evaluation.")
flags.DEFINE_integer("eval_latency_programs", 32, "Programs timed one at a time for latency.")
flags.DEFINE_bool("progress", True, "Show progress bars.")

_DEFINERS = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_bool, str: flags.DEFINE_string}
for _field in dataclasses.fields(TrainConfig):
    _type = typing.get_type_hints(TrainConfig)[_field.name]
    _base = str if _field.name == "data_dir" else _type
    _DEFINERS[_base](_field.name, None, _HELP.get(_field.name, _field.name) + " (default: the preset's)")

FLAGS = flags.FLAGS


def config_from_flags(values: flags.FlagValues) -> TrainConfig:
    """The preset with every explicitly set flag applied, validated (FlagError on a bad value)."""
    overrides = {
        f.name: getattr(values, f.name) for f in dataclasses.fields(TrainConfig) if getattr(values, f.name) is not None
    }
    config = PRESETS[values.preset].replace(**overrides)
    if values.warmup_steps is None and config.warmup_steps >= config.steps:
        config = config.replace(warmup_steps=config.steps // 10)  # a short --steps keeps a tenth as warmup
    try:
        config.validate()
    except ValueError as exc:
        raise FlagError(str(exc)) from None
    if config.data_dir:
        data_dir = pathlib.Path(config.data_dir).expanduser()
        if not (data_dir / "train.jsonl").is_file():
            raise FlagError(
                f"--data_dir {config.data_dir} has no train.jsonl (build one with experiments.make_dataset)"
            )
    return config


def parse(values: flags.FlagValues) -> tuple[TrainConfig, pathlib.Path]:
    config = config_from_flags(values)
    if values.eval_limit is not None and values.eval_limit < 1:
        raise FlagError(f"--eval_limit must be >= 1; got {values.eval_limit}")
    if values.eval_num_samples < 0 or values.eval_batch_size < 1 or values.eval_latency_programs < 0:
        raise FlagError("--eval_num_samples and --eval_latency_programs must be >= 0 and --eval_batch_size >= 1")
    workdir = check_writable_dir(pathlib.Path(values.workdir or f"runs/{values.preset}-{config.cell}").expanduser())
    import jax  # pylint: disable=import-outside-toplevel  (only once the cheap checks passed)

    if config.batch_size % jax.local_device_count():
        raise FlagError(f"--batch_size {config.batch_size} is not divisible by the {jax.local_device_count()} devices")
    return config, workdir


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    try:
        config, workdir = parse(FLAGS)
    except FlagError as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    from jaxlua.train.checkpoint import ResumeMismatchError
    from jaxlua.train.loop import TrainingDivergedError
    from jaxlua.train.run import EvalOptions, run_experiment
    from jaxlua.train.cli import quiet_orbax_info_logs

    quiet_orbax_info_logs()

    options = EvalOptions(
        enabled=FLAGS.eval,
        limit=FLAGS.eval_limit,
        num_samples=FLAGS.eval_num_samples,
        batch_size=FLAGS.eval_batch_size,
        latency_programs=FLAGS.eval_latency_programs,
    )
    begin = time.perf_counter()
    try:
        metrics = run_experiment(config, workdir, options, progress=FLAGS.progress)
    except ResumeMismatchError as exc:
        fail(exc)
    except TrainingDivergedError as exc:
        fail(exc, code=1)
    seconds = time.perf_counter() - begin
    summary = metrics["train"]
    resumed = f", resumed at step {summary['resumed_from_step']}" if summary["resumed_from_step"] else ""
    print(
        f"trained {config.cell} to step {config.steps}{resumed} in {summary['seconds']:.0f} s; total {seconds:.0f} s;"
        f" workdir {workdir}"
    )
    if FLAGS.eval:
        from jaxlua.eval import format_metrics_table

        print(format_metrics_table(metrics))


if __name__ == "__main__":
    app.run(main)
