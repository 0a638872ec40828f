r"""A grid of cells x experts x attention at a reduced budget -> one results CSV and a Table 6.3-shaped table.

    python -m experiments.sweep --workdir runs/sweep [--cells rnn,lstm,gru,mingru,minlstm] [--experts 0,2,4,10] \
        [--attention false,true] [--steps 300] [--eval_limit 200] [--preset default] [--seed 0]

Each grid point trains in its own workdir (WORKDIR/<cell>-e<experts>-a<0|1>) with the same preset, steps and
seed, and is evaluated on the test split; a point whose metrics.json exists is not run again, so an
interrupted sweep continues where it stopped. Writes WORKDIR/results.csv and WORKDIR/results.md (EM, F1, SS,
P@1, Perp, Rcl, Prs as in the dissertation's Table 6.3, plus the byte-exact EM and latency).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import pathlib

from absl import flags

from jaxlua.cli.flags import FlagError, check_preset, config_of_flags, define_flags_of, fail, run
from jaxlua.cli.workdir import check_writable_dir
from jaxlua.config import CELLS, PRESETS, ConfigBase, EvalConfig, TrainConfig, config_field
from jaxlua.workdir_files import METRICS_FILE


@dataclasses.dataclass(frozen=True)
class SweepArgs(ConfigBase):
    """The grid and the budget of one sweep, each a flag (the evaluation's sampling is EvalConfig's flag)."""

    workdir: str = config_field("runs/sweep", "Root directory of the sweep (one sub-workdir per grid point).")
    cells: tuple[str, ...] = config_field(CELLS.names(), "Cells to train.", choices=CELLS)
    experts: tuple[int, ...] = config_field((0, 2, 4, 10), "Numbers of experts (0 = no MoE), as in Table 6.3.",
                                            low=0)
    attention: tuple[bool, ...] = config_field((False,), "Attention settings to try: false, true or both.")
    preset: str = config_field("default", f"Preset every grid point starts from: {', '.join(PRESETS)}.",
                               check=check_preset)
    steps: int = config_field(300, "Training steps per grid point (the reduced budget).", low=0, low_open=True)
    hidden_dim: int | None = config_field(None, "Hidden size override (default: the preset's).")
    batch_size: int | None = config_field(None, "Batch size override (default: the preset's).")
    data_dir: str | None = config_field(None, "Dataset directory; default: the built-in dataset.")
    seed: int = config_field(0, "Seed shared by every grid point.")
    eval_limit: int = config_field(200, "Test programs evaluated per grid point (0 = all).", low=0)
    progress: bool = config_field(True, "Show progress bars.")

    def evaluation(self, sampling: EvalConfig) -> EvalConfig:
        """The evaluation of every grid point: `sampling` on the first `eval_limit` test programs (0: all)."""
        return sampling.replace(limit=self.eval_limit or None)


EVAL_FLAGS = ("num_samples",)  # the EvalConfig settings a sweep takes, as --eval_<name>


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Declare the flags (only when run as a script, so the sweep imports beside experiments.train)."""
    define_flags_of(SweepArgs, flag_values=flag_values)
    define_flags_of(EvalConfig, prefix="eval_", only=EVAL_FLAGS, flag_values=flag_values)


FLAGS = flags.FLAGS

TABLE = (
    ("EM", "token_exact_match"),
    ("F1", "f1"),
    ("SS", "sentence_similarity"),
    ("P@1", "pass_at_1"),
    ("Perp", "perplexity"),
    ("Rcl", "recall"),
    ("Prs", "precision"),
    ("byte EM", "exact_match"),
    ("p50 ms", "latency_ms_p50"),
)


def grid(args: SweepArgs) -> list[tuple[str, TrainConfig]]:
    """(name, validated config) for every grid point; FlagError on the first bad value."""
    preset = PRESETS[args.preset]
    # A reduced budget keeps the preset's warmup share at most a tenth of the steps.
    overrides = {
        "steps": args.steps,
        "seed": args.seed,
        "data_dir": args.data_dir,
        "warmup_steps": min(preset.warmup, args.steps // 10),
    }
    for name in ("hidden_dim", "batch_size"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    points = []
    for cell in args.cells:
        for num_experts in args.experts:
            for attn in args.attention:
                try:
                    config = preset.replace(cell=cell, num_experts=num_experts, attention=attn, **overrides)
                except ValueError as exc:
                    raise FlagError(f"{cell}-e{num_experts}-a{int(attn)}: {exc}") from None
                points.append((f"{cell}-e{num_experts}-a{int(attn)}", config))
    return points


def table_row(name: str, config: TrainConfig, metrics: dict) -> dict:
    row = {
        "model": name,
        "cell": config.model.cell,
        "h": config.model.hidden_dim,
        "expts": config.model.num_experts,
        "attn": int(config.model.attention),
        "train": config.steps,
        "train_seconds": metrics.get("train", {}).get("seconds"),
    }
    row.update({label: metrics.get(key) for label, key in TABLE})
    return row


def write_results(root: pathlib.Path, rows: list[dict]) -> None:
    """results.csv and results.md (markdown, Table 6.3 layout) in `root`."""
    columns = list(rows[0])
    with (root / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    fmt = lambda v: (
        "-"
        if v is None
        else (f"{v:.4f}" if isinstance(v, float) and abs(v) < 100 else f"{v:.1f}" if isinstance(v, float) else str(v))
    )
    shown = ["model", "h", "expts", "attn", "train"] + [label for label, _ in TABLE]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(fmt(row[c]) for c in shown) + " |" for row in rows]
    (root / "results.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    try:
        args = config_of_flags(SweepArgs, FLAGS)
        evaluation = args.evaluation(config_of_flags(EvalConfig, FLAGS, prefix="eval_", only=EVAL_FLAGS))
        points = grid(args)
        root = check_writable_dir(pathlib.Path(args.workdir).expanduser())
    except FlagError as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    from absl import logging

    from jaxlua.cli.experiment import quiet_orbax_info_logs, run_experiment

    quiet_orbax_info_logs()
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (name, config) in enumerate(points):
        workdir = root / name
        metrics_path = workdir / METRICS_FILE
        if metrics_path.exists():
            logging.info("[%d/%d] %s: reusing %s", index + 1, len(points), name, metrics_path)
            metrics = json.loads(metrics_path.read_text())
        else:
            logging.info("[%d/%d] %s: training %d steps", index + 1, len(points), name, config.steps)
            metrics = run_experiment(config, workdir, evaluation, progress=args.progress)
        rows.append(table_row(name, config, metrics))
        write_results(root, rows)
    print((root / "results.md").read_text())
    print(f"results: {root / 'results.csv'}")


if __name__ == "__main__":
    define_flags()
    run(main)
