r"""The accuracy study: every idea of the recipe trained for the same wall-clock minutes, scored on the same
fixed, seeded held-out programs per level.

    python -m experiments.study [--out runs/study] [--budget_s 180] [--levels 1,2,3,4,5,6,7] \
        [--heldout_per_level 100] [--only name,name] [--results results/accuracy_study_cpu.json]

Two groups of runs, each a named change from one base recipe (`VARIANTS`):
- "stream": fresh programs from the generator at every step (levels `--levels`), blocks, reading the program
  twice or with a backward encoder, digit order, the five cells, and the TEX reference (a character-level
  transformer with TEX's depth, heads, learning rate and batch, its width scaled to the budget);
- "fixed": one fixed dataset of the same levels with execution traces (`--fixed_programs`), where curricula
  (none, sequential, blend = Learning to Execute's mixed, cumulative) and trace targets apply.

Every run trains for `--budget_s` seconds of wall clock (compilation, validation and, for the stream, the
program generation beside it included; `TrainConfig.time_budget_s`, whose learning rate follows the share of
the budget spent: jaxlua.train.budget), then its best checkpoint (by validation loss) is evaluated on the
study's test set: the stream's test programs of the base recipe (`heldout_per_level` per level, seeded, never
trained on), written once to OUT/heldout. Choices are made on validation (the curves); the test set only
reports. A program that does not fit a run's `max_len` counts as wrong. OUT/study.json and `--results` hold
every run (the environment, the changes, steps, seconds, the validation curve against wall-clock seconds, test
exact match per level and per construct); OUT/study.md is the table results/README.md shows. A run whose
metrics exist is not trained again, so an interrupted study
continues; `--results` is not overwritten without `--overwrite`.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import sys
from typing import Any

from absl import flags

from experiments import bench_common
from jaxlua.cli.flags import FlagError, config_of_flags, define_flags_of, fail, run
from jaxlua.cli.workdir import check_writable_dir
from jaxlua.config import ConfigBase, EvalConfig, TrainConfig, config_field
from jaxlua.workdir_files import STUDY_RUN_FILE


@dataclasses.dataclass(frozen=True)
class Variant:
    """One run of the study: a named change from its group's base recipe, and what it tests."""

    name: str
    group: str
    idea: str
    changes: dict[str, Any]


BLOCK = {"mlp_ratio": 2, "conv_width": 4}  # the Griffin-style block
# Each idea is one change from the default recipe (MinGRU, no MLP): at this budget the block's slower steps
# made it lose (results/README.md, "The accuracy study"), so the later ideas change the plain recipe.
VARIANTS: tuple[Variant, ...] = (
    Variant("mingru", "stream", "today's default recipe: 2-layer MinGRU, no MLP", {}),
    Variant("mingru_block", "stream", "+ gated MLP (ratio 2) and causal conv (width 4), as Griffin", BLOCK),
    Variant("hybrid_attention", "stream", "+ gated MLP, conv and self-attention in every block (Griffin-like "
            "recurrence + attention)", {**BLOCK, "attention": True}),
    Variant("mingru_attention", "stream", "+ self-attention in every block (recurrence + attention)",
            {"attention": True}),
    Variant("read_twice", "stream", "+ the program written twice (Learning to Execute)",
            {"program_copies": 2, "max_len": 1024}),
    Variant("lsd_digits", "stream", "+ numbers written least significant digit first", {"digits": "lsd"}),
    Variant("program_encoder", "stream", "+ a backward cell reading the program right to left",
            {"program_encoder": True}),
    Variant("minlstm", "stream", "the MinLSTM cell", {"cell": "minlstm"}),
    Variant("gru", "stream", "the GRU cell", {"cell": "gru"}),
    Variant("lstm", "stream", "the LSTM cell", {"cell": "lstm"}),
    Variant("rnn", "stream", "the Elman RNN cell", {"cell": "rnn"}),
    # TEX used batch 64 and 256-character blocks; level 1-3 programs run to 1,300 characters, and batch 64 at
    # 2,048 asked for 76 GB here, so batch 32 and 1,024 characters (longer programs count as wrong).
    Variant("tex_transformer", "stream", "TEX's recipe: character tokens, 6-layer transformer with 6 heads, "
            "lr 1e-3, loss on every token; width 96 and batch 32 to fit the budget and memory",
            {"cell": "transformer", "tokenizer_mode": "chars", "hidden_dim": 96, "num_heads": 6, "num_layers": 6,
             "lr": 1e-3, "include_program_loss": True, "max_len": 1024}),
    Variant("fixed", "fixed", "the default recipe on a fixed dataset, no curriculum", {}),
    Variant("fixed_sequential", "fixed", "curriculum: one level after another", {"curriculum": "sequential"}),
    Variant("fixed_blend", "fixed", "curriculum: the current level plus 20% from all (Learning to Execute's "
            "mixed)", {"curriculum": "blend"}),
    Variant("fixed_cumulative", "fixed", "curriculum: levels added one by one, earlier ones kept",
            {"curriculum": "cumulative"}),
    Variant("fixed_trace", "fixed", "targets: the execution trace, then the output (scored on the output)",
            {"targets": "trace_output"}),
)
GROUPS = ("stream", "fixed")


@dataclasses.dataclass(frozen=True)
class StudyArgs(ConfigBase):
    """The settings of one study, each a flag."""

    out: str = config_field("runs/study", "Study folder: the held-out set, the fixed dataset and one workdir per run.")
    budget_s: float = config_field(180.0, "Wall-clock seconds of training per run.", low=0.0, low_open=True)
    levels: str = config_field("1,2,3,4,5,6,7", "Generator levels trained and tested.")
    heldout_per_level: int = config_field(100, "Programs per level in the validation and the test set.", low=0,
                                          low_open=True)
    fixed_programs: int = config_field(20_000, "Programs in the fixed group's dataset (before the held-out programs "
                                       "are taken out of its training split).", low=0, low_open=True)
    only: tuple[str, ...] = config_field((), "Run only these variants (default: all): "
                                         f"{', '.join(v.name for v in VARIANTS)}.")
    seed: int = config_field(0, "Seed of the data, the held-out sets and every run.")
    results: str = config_field("results/accuracy_study_cpu.json", "Where the study's JSON is copied at the end.")
    overwrite: bool = config_field(False, "Replace an existing --results file.")
    progress: bool = config_field(True, "Show progress bars.")


def define_flags() -> None:
    """Declare the flags (only when run as a script, so the study imports beside experiments.train)."""
    define_flags_of(StudyArgs)


FLAGS = flags.FLAGS

_CAP_STEPS = 1_000_000  # the time budget, not this, ends a run


def base_config(group: str, levels: str, heldout_per_level: int, budget_s: float, seed: int,
                data_dir: str | None = None) -> TrainConfig:
    """The recipe every variant of `group` changes: today's defaults, trained for `budget_s` seconds."""
    common = dict(steps=_CAP_STEPS, time_budget_s=budget_s, seed=seed, eval_interval=100,
                  checkpoint_interval=100_000, log_interval=50)
    if group == "stream":
        return TrainConfig(stream=True, levels=levels, heldout_per_level=heldout_per_level, **common)
    return TrainConfig(data_dir=data_dir, **common)


def variant_config(variant: Variant, base: TrainConfig) -> TrainConfig:
    """`base` with the variant's changes (FlagError naming the variant when they do not fit)."""
    try:
        return base.replace(**variant.changes)
    except (TypeError, ValueError) as exc:
        raise FlagError(f"study variant {variant.name}: {exc}") from None


def selected_variants(only: list[str]) -> list[Variant]:
    """The variants `--only` names (all when empty), in study order."""
    names = {v.name for v in VARIANTS}
    unknown = [name for name in only if name not in names]
    if unknown:
        raise FlagError(f"--only: unknown variant(s) {', '.join(unknown)}; choose from {', '.join(sorted(names))}")
    return [v for v in VARIANTS if not only or v.name in only]


def write_heldout(out: pathlib.Path, config: TrainConfig, progress: bool) -> pathlib.Path:
    """OUT/heldout: the base stream's validation and test programs as a dataset folder (train split empty)."""
    from jaxlua.data.writer import record_line  # pylint: disable=import-outside-toplevel
    from jaxlua.data.run_data import open_stream_for  # pylint: disable=import-outside-toplevel

    from jaxlua.data import load_split  # pylint: disable=import-outside-toplevel

    target = out / "heldout"
    if (target / "test.jsonl").is_file():
        splits = {split: load_split(target, split) for split in ("train", "val", "test")}
        if all("trace" in r for r in splits["val"] + splits["test"]):
            return target
        shutil.rmtree(target)  # a held-out folder without traces: rebuilt with the same programs, traced
    else:
        with open_stream_for(config, progress=progress) as stream:
            splits = {"train": [], "val": stream.val_records, "test": stream.test_records}
    splits = {split: with_traces(records) for split, records in splits.items()}
    tmp = out / ".heldout.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for split, records in splits.items():
        (tmp / f"{split}.jsonl").write_text("".join(record_line(r) for r in records), encoding="utf-8")
    tmp.rename(target)
    return target


def with_traces(records: list[dict]) -> list[dict]:
    """`records` with their execution traces (trace-target runs are evaluated on the same programs; their
    perplexity reads the true trace), recorded by a second, traced run of each program."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data.traces import trace_fields
    from jaxlua.lua import run_lua

    traced = []
    for record in records:
        result = run_lua(record["source"], trace=True)
        if result.status != "ok" or result.stdout != record["stdout"]:
            raise RuntimeError(f"held-out program {record.get('id')} ran differently when traced: {result.status}")
        traced.append({**record, **trace_fields(result)})
    return traced


def write_fixed_dataset(out: pathlib.Path, heldout: pathlib.Path, levels: tuple[int, ...], num_programs: int,
                        seed: int, progress: bool) -> pathlib.Path:
    """OUT/fixed_data: a traced dataset of `levels` whose training split holds no held-out program."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data import load_split
    from jaxlua.data.build import build_dataset
    from jaxlua.data.writer import record_line

    target = out / "fixed_data"
    if (target / "meta.json").is_file():
        return target
    raw = out / ".fixed_data.build"
    shutil.rmtree(raw, ignore_errors=True)
    build_dataset(raw, num_programs, levels, seed + 1, progress=progress, trace=True)
    held = {r["source"] for split in ("val", "test") for r in load_split(heldout, split)}
    built = load_split(raw, "train")
    train = [r for r in built if r["source"] not in held]
    (raw / "train.jsonl").write_text("".join(record_line(r) for r in train), encoding="utf-8")
    meta = json.loads((raw / "meta.json").read_text(encoding="utf-8"))
    meta["heldout_removed_from_train"] = len(built) - len(train)
    (raw / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    raw.rename(target)
    return target


def score(metrics: dict[str, Any], heldout_counts: dict[str, int]) -> dict[str, Any]:
    """Test exact match per level over every held-out program (one that was not scored counts as wrong)."""
    by_level, scored = {}, {}
    for level, total in heldout_counts.items():
        entry = metrics.get("per_level", {}).get(level, {})
        n = int(entry.get("num_programs", 0))
        by_level[level] = (entry.get("exact_match", 0.0) * n) / total if total else 0.0
        scored[level] = n
    total = sum(heldout_counts.values())
    return {"n": total, "exact_match": sum(by_level[lv] * heldout_counts[lv] for lv in by_level) / total,
            "by_level": by_level, "n_by_level": heldout_counts, "scored_by_level": scored,
            "by_construct": {k: v["exact_match"] for k, v in metrics.get("per_construct", {}).items()}}


def study_evaluation(config: TrainConfig, heldout: pathlib.Path) -> EvalConfig:
    """How every run is scored: greedy, on the study's test set, no latency, up to the longest target."""
    from jaxlua.data.run_data import longest_target  # pylint: disable=import-outside-toplevel

    return EvalConfig(split="test", data_dir=str(heldout), num_samples=0, latency_programs=0, batch_size=64,
                      max_new_tokens=longest_target(config.targets), seed=0)


def run_variant(variant: Variant, config: TrainConfig, out: pathlib.Path, heldout: pathlib.Path,
                heldout_counts: dict[str, int], progress: bool) -> dict[str, Any]:
    """Train (or reuse) one variant and evaluate it on the study's test set; its row of the study."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.cli.experiment import run_experiment
    from jaxlua.cli.run_eval import evaluate_run
    from jaxlua.train.writers import validation_curve
    from jaxlua.cli.workdir import WorkdirLock

    workdir = out / variant.name
    summary_path = workdir / STUDY_RUN_FILE
    if summary_path.is_file():
        return json.loads(summary_path.read_text(encoding="utf-8"))
    if workdir.exists():  # a run cut short: its budget cannot be resumed fairly, so it starts again
        shutil.rmtree(workdir)
    trained = run_experiment(config, workdir, None, progress=progress)["train"]
    with WorkdirLock(workdir, "evaluate"):
        metrics = evaluate_run(workdir, study_evaluation(config, heldout))
    row = {"name": variant.name, "group": variant.group, "idea": variant.idea, "changes": variant.changes,
           "config": config.to_dict(), "workdir": variant.name, "steps": trained["steps"],
           "train_seconds": trained["seconds"], "best_val_loss": trained["best_val_loss"],
           "params": trained["params"],
           "curve": validation_curve(workdir), "test": score(metrics, heldout_counts),
           "eval_seconds": round(metrics.get("eval_seconds", 0.0), 1),
           "predictions": str(pathlib.Path(variant.name) / pathlib.Path(metrics["predictions_file"]).name)}
    summary_path.write_text(json.dumps(row, indent=2), encoding="utf-8")
    return row


def table(rows: list[dict[str, Any]], levels: list[str]) -> str:
    """Markdown: test exact match per level per run, with steps, seconds and parameters."""
    head = ["run", "group", "params", "steps", "train s", "val EM (last)", "test EM"] + [f"L{lv}" for lv in levels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        val = row["curve"][-1]["val_exact_match"] if row["curve"] else float("nan")
        cells = [row["name"], row["group"], f"{row['params']:,}", str(row["steps"]), f"{row['train_seconds']:.0f}",
                 f"{100 * val:.1f}%", f"{100 * row['test']['exact_match']:.1f}%"]
        cells += [f"{100 * row['test']['by_level'][lv]:.1f}%" for lv in levels]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    try:
        args = config_of_flags(StudyArgs, FLAGS)
        variants = selected_variants(list(args.only))
        out = check_writable_dir(pathlib.Path(args.out).expanduser())
        results = pathlib.Path(args.results).expanduser() if args.results else None
        if results is not None and results.exists() and not args.overwrite:
            raise FlagError(f"--results {results} exists; pass --overwrite to replace it or another path")
        stream_base = base_config("stream", args.levels, args.heldout_per_level, args.budget_s, args.seed)
        levels = stream_base.stream_levels
        configs = {v.name: variant_config(v, stream_base if v.group == "stream" else
                                          base_config("fixed", args.levels, args.heldout_per_level,
                                                      args.budget_s, args.seed, data_dir=str(out / "fixed_data")))
                   for v in variants}
    except (FlagError, ValueError) as exc:
        fail(exc)
    # pylint: disable=import-outside-toplevel
    from absl import logging

    from jaxlua.cli.experiment import interrupt_on_sigterm, quiet_orbax_info_logs
    from jaxlua.data import load_split

    quiet_orbax_info_logs()
    interrupt_on_sigterm()
    environment = bench_common.environment("shared; see load averages")
    out.mkdir(parents=True, exist_ok=True)
    heldout = write_heldout(out, stream_base, args.progress)
    counts: dict[str, int] = {}
    for record in load_split(heldout, "test"):
        counts[str(record["level"])] = counts.get(str(record["level"]), 0) + 1
    if any(v.group == "fixed" for v in variants):
        write_fixed_dataset(out, heldout, levels, args.fixed_programs, args.seed, args.progress)
    rows = []
    for index, variant in enumerate(variants):
        logging.info("[%d/%d] %s (%s): %s", index + 1, len(variants), variant.name, variant.group, variant.idea)
        rows.append(run_variant(variant, configs[variant.name], out, heldout, counts, args.progress))
        study = bench_common.finish_environment({
            "environment": dict(environment), "budget_s": args.budget_s, "levels": list(levels),
            "heldout_per_level": args.heldout_per_level, "seed": args.seed, "fixed_programs": args.fixed_programs,
            "command": "python -m experiments.study " + " ".join(sys.argv[1:]), "runs": rows})
        (out / "study.json").write_text(json.dumps(study, indent=2), encoding="utf-8")
        (out / "study.md").write_text(table(rows, sorted(counts, key=int)), encoding="utf-8")
    if results is not None:
        results.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "study.json", results)
    print((out / "study.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    define_flags()
    run(main)
