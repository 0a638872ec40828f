r"""Train a model, evaluate it on the test split, print the metrics table.

    python -m experiments.train --workdir runs/default [--data_dir DIR] [--preset default|paper] \
        [--cell gru] [--steps N] [--seed S] [any TrainConfig setting as --name=value] \
        [--coordinator HOST:PORT --num_processes N --process_id I]   # one process of an N-process run

Every TrainConfig setting is a flag (jaxlua.cli.flags); a flag left unset keeps the preset's value. Running the
same command again resumes from the workdir's latest checkpoint; a larger --steps continues a finished run,
any other change of configuration or dataset is refused. With --coordinator (or `--coordinator auto` under
SLURM, Open MPI, ...) this is one process of a data-parallel run over several hosts (jaxlua.train.distributed;
results/README.md, "Training on several hosts"). Flags are validated before anything is written,
loaded or compiled: a bad value prints one line and exits with code 2, and so does data the run cannot use (a
split missing, malformed or empty, or no program short enough for --max_len).
"""

from __future__ import annotations

import dataclasses
import pathlib
import time

from absl import flags

from jaxlua.cli.flags import (FlagError, check_preset, config_from_flags, config_of_flags, define_config_flags,
                              define_flags_of, fail, run)
from jaxlua.cli.workdir import check_writable_dir
from jaxlua.config import PRESETS, ConfigBase, EvalConfig, TrainConfig, config_field


@dataclasses.dataclass(frozen=True)
class TrainArgs(ConfigBase):
    """The settings of experiments.train beside the TrainConfig and the evaluation after training, each a flag."""

    workdir: str | None = config_field(None, "Run directory (checkpoints, logs, metrics); default "
                                             "runs/<preset>-<cell>.")
    preset: str = config_field("default", f"Named hyperparameter preset: {', '.join(PRESETS)}.", check=check_preset)
    eval: bool = config_field(True, "Evaluate the best checkpoint on the test split at the end.")
    progress: bool = config_field(True, "Show progress bars.")
    coordinator: str | None = config_field(None, "HOST:PORT of process 0 in a multi-process run (the same on every "
                                                 "process), or auto: read it, the process count and id from the "
                                                 "cluster (SLURM, Open MPI, ...) and JAX_COORDINATOR_ADDRESS. Unset: "
                                                 "one process.")
    num_processes: int | None = config_field(None, "Processes of a multi-process run (one per host), with "
                                                   "--coordinator.")
    process_id: int | None = config_field(None, "This process's id in a multi-process run, 0 to num_processes - 1 "
                                                "(0 on the coordinator's host).")


EVAL_FLAGS = ("limit", "num_samples", "batch_size", "latency_programs")  # EvalConfig settings, as --eval_<name>
define_flags_of(TrainArgs)
define_flags_of(EvalConfig, prefix="eval_", only=EVAL_FLAGS)
define_config_flags()

FLAGS = flags.FLAGS


def parse(values: flags.FlagValues) -> tuple[TrainArgs, TrainConfig, EvalConfig | None, pathlib.Path]:
    """The validated settings, config, evaluation (None with --noeval) and workdir; FlagError on any bad value
    (nothing written yet)."""
    args = config_of_flags(TrainArgs, values)
    config = config_from_flags(values, args.preset)
    evaluation = config_of_flags(EvalConfig, values, prefix="eval_", only=EVAL_FLAGS) if args.eval else None
    workdir = pathlib.Path(args.workdir or f"runs/{args.preset}-{config.model.cell}").expanduser()
    check_writable_dir(workdir)
    # pylint: disable=import-outside-toplevel  (only once the cheap checks passed)
    import jax

    from jaxlua.train import distributed

    try:
        launch = distributed.settings(args.coordinator, args.num_processes, args.process_id)
    except ValueError as exc:
        raise FlagError(str(exc)) from None
    try:
        distributed.initialize(launch)
    except Exception as exc:  # pylint: disable=broad-except  # jax raises ValueError, RuntimeError, XlaRuntimeError
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise FlagError(f"could not join the multi-process run ({launch.coordinator}): {lines[0][:300]}") from None
    if config.batch_size % jax.device_count():  # every process's devices: the global batch is split over all
        where = f" of {jax.process_count()} processes" if jax.process_count() > 1 else ""
        raise FlagError(f"--batch_size {config.batch_size} is not divisible by the {jax.device_count()} "
                        f"devices{where}")
    return args, config, evaluation, workdir


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    try:
        args, config, evaluation, workdir = parse(FLAGS)
    except FlagError as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    import jax

    from jaxlua.cli.experiment import BAD_INPUT_ERRORS, interrupt_on_sigterm, quiet_orbax_info_logs, run_experiment
    from jaxlua.eval.evaluator import format_metrics_table
    from jaxlua.train.loop import TrainingDivergedError, TrainingInterrupted

    quiet_orbax_info_logs()
    interrupt_on_sigterm()
    begin = time.perf_counter()
    try:
        metrics = run_experiment(config, workdir, evaluation, progress=args.progress)
    except BAD_INPUT_ERRORS as exc:
        fail(exc)
    except (TrainingDivergedError, TrainingInterrupted) as exc:
        fail(exc, code=1)
    except KeyboardInterrupt:
        fail("stopped outside the training steps (preparing data or evaluating); re-run the same command to "
             "resume", code=1)
    seconds = time.perf_counter() - begin
    if jax.process_index() != 0:
        return  # process 0 reports the run
    summary = metrics["train"]
    resumed = f", resumed at step {summary['resumed_from_step']}" if summary["resumed_from_step"] else ""
    print(
        f"trained {config.model.cell} to step {summary['steps']}{resumed} in {summary['seconds']:.0f} s; "
        f"total {seconds:.0f} s; workdir {workdir}"
    )
    if evaluation is not None:
        print(format_metrics_table(metrics))


if __name__ == "__main__":
    run(main)
