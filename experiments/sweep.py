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
import json
import pathlib

from absl import flags

from jaxlua.cli.flags import FlagError, fail, run
from jaxlua.cli.workdir import check_writable_dir
from jaxlua.config import CELLS, PRESETS, TrainConfig

flags.DEFINE_string("workdir", "runs/sweep", "Root directory of the sweep (one sub-workdir per grid point).")
flags.DEFINE_list("cells", list(CELLS.names()), f"Cells to train, from {', '.join(CELLS.names())}.")
flags.DEFINE_list("experts", ["0", "2", "4", "10"], "Numbers of experts (0 = no MoE), as in Table 6.3.")
flags.DEFINE_list("attention", ["false"], "Attention settings to try: false, true or both.")
flags.DEFINE_string("preset", "default", f"Preset every grid point starts from: {', '.join(PRESETS)}.")
flags.DEFINE_integer("steps", 300, "Training steps per grid point (the reduced budget).")
flags.DEFINE_integer("hidden_dim", None, "Hidden size override (default: the preset's).")
flags.DEFINE_integer("batch_size", None, "Batch size override (default: the preset's).")
flags.DEFINE_string("data_dir", None, "Dataset directory; default: the built-in dataset.")
flags.DEFINE_integer("seed", 0, "Seed shared by every grid point.")
flags.DEFINE_integer("eval_limit", 200, "Test programs evaluated per grid point (0 = all).")
flags.DEFINE_integer("eval_num_samples", 0, "Samples per program for pass@k (0: pass@1 = greedy EM).")
flags.DEFINE_bool("progress", True, "Show progress bars.")

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


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise FlagError(f"--attention values must be true or false; got {text!r}")
    return lowered in ("true", "1")


def grid(values) -> list[tuple[str, TrainConfig]]:
    """(name, validated config) for every grid point; FlagError on the first bad value."""
    if values.preset not in PRESETS:
        raise FlagError(f"unknown preset {values.preset!r}; choose one of {', '.join(PRESETS)}")
    for cell in values.cells:
        if cell not in CELLS:
            raise FlagError(f"unknown cell {cell!r} in --cells; choose from {', '.join(CELLS.names())}")
    try:
        experts = [int(e) for e in values.experts]
    except ValueError:
        raise FlagError(f"--experts must be integers; got {values.experts}") from None
    if any(e < 0 for e in experts):
        raise FlagError(f"--experts must be >= 0; got {values.experts}")
    attention = [_bool(a) for a in values.attention]
    if values.eval_limit < 0 or values.eval_num_samples < 0:
        raise FlagError("--eval_limit and --eval_num_samples must be >= 0")
    preset = PRESETS[values.preset]
    # A reduced budget keeps the preset's warmup share at most a tenth of the steps.
    overrides = {
        "steps": values.steps,
        "seed": values.seed,
        "data_dir": values.data_dir,
        "warmup_steps": min(preset.warmup, values.steps // 10),
    }
    for name in ("hidden_dim", "batch_size"):
        if getattr(values, name) is not None:
            overrides[name] = getattr(values, name)
    points = []
    for cell in values.cells:
        for num_experts in experts:
            for attn in attention:
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
        points = grid(FLAGS)
        root = check_writable_dir(pathlib.Path(FLAGS.workdir).expanduser())
    except FlagError as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    from absl import logging

    from jaxlua.cli.experiment import EvalOptions, quiet_orbax_info_logs, run_experiment

    quiet_orbax_info_logs()
    root.mkdir(parents=True, exist_ok=True)
    options = EvalOptions(limit=FLAGS.eval_limit or None, num_samples=FLAGS.eval_num_samples)
    rows = []
    for index, (name, config) in enumerate(points):
        workdir = root / name
        metrics_path = workdir / "metrics.json"
        if metrics_path.exists():
            logging.info("[%d/%d] %s: reusing %s", index + 1, len(points), name, metrics_path)
            metrics = json.loads(metrics_path.read_text())
        else:
            logging.info("[%d/%d] %s: training %d steps", index + 1, len(points), name, config.steps)
            metrics = run_experiment(config, workdir, options, progress=FLAGS.progress)
        rows.append(table_row(name, config, metrics))
        write_results(root, rows)
    print((root / "results.md").read_text())
    print(f"results: {root / 'results.csv'}")


if __name__ == "__main__":
    run(main)
