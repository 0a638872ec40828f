r"""Learning efficiency: named recipes trained on the program stream for the same wall-clock budget, scored at
every evaluation point on one fixed, seeded test set.

    python -m experiments.bench_learning [--recipes default,previous] [--budget_s 450] [--levels 1,2,3] \
        [--heldout_per_level 300] [--seed 0] [--out runs/learning] [--results_dir results] [--overwrite] \
        [--eval_interval 0] [--nogreedy] [--set name=key:value,key:value]

Each recipe (`RECIPES`: a name, what it is, and its `TrainConfig` changes from `jaxlua.config.DEFAULT`, the main
job's recipe) trains in OUT/<recipe> one after another, for `--budget_s` seconds of the trainer's wall clock
(`TrainConfig.time_budget_s`: compilation, validation, checkpoint saves and the stream's program generation
included), with a checkpoint kept at every evaluation point (`checkpoint_interval = eval_interval`, every
checkpoint kept; checkpoints are small). Afterwards every checkpoint is restored and scored on the benchmark's
test set with teacher-forced exact match (`jaxlua.train.step.make_eval_step`: every output token is the argmax,
i.e. greedy decoding reproduces the reference tokens; one forward pass), and the last one also by greedy
decoding through the evaluator (byte-exact stdout, `--greedy`). Programs seen at a point are its step times the
batch size; its seconds are the `elapsed_s` of that step's validation row in the run's metrics.csv.

The test set: the stream's test programs of the base settings (DEFAULT with `--levels`, `--heldout_per_level` and
`--seed`), generated once and written to OUT/heldout; it only reports, nothing is chosen on it. Levels: with
`--levels` every recipe trains on those levels (a recipe that orders its own keeps its order, restricted to them,
the missing ones appended) and is tested on them; without it each recipe trains on its own levels and the test
set covers all of them. A recipe's stream never trains on the record keys of its own held-out sets; the
benchmark's test set is another one when the recipe's levels differ from the base's, so each result counts the
test programs whose record key is in the run's stream key log (`seen_in_training`).

Every recipe's result goes to RESULTS_DIR/learning_<recipe>_<backend>.json (refused when it exists, unless
`--overwrite`); a recipe whose OUT/<recipe>/learning_run.json exists is not trained again, so an interrupted
benchmark continues (a run cut short starts again: its budget cannot be resumed fairly).
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import shutil
import sys
import time
from typing import Any, NoReturn

from absl import app, flags
from tqdm import tqdm

from experiments import bench_common
from experiments.bench_common import option
from jaxlua.config import DEFAULT, TrainConfig
from jaxlua.workdir_files import STREAM_KEYS_FILE

SCRIPT = "bench_learning"
BARS = (0.5, 0.8, 0.95)  # "programs to reach": the first evaluation point at or above each
MAX_TO_KEEP = 1_000_000  # every evaluation point's checkpoint is kept
RUN_FILE = "learning_run.json"  # a recipe's finished result in its workdir
TRAINED_FILE = "trained.json"  # written once training is done (scoring may then be redone)
HELDOUT_FILE = "benchmark_heldout.json"  # the settings the held-out folder was made with
MARKER_FILE = "bench_learning_recipe.json"  # written into a recipe's workdir before it trains
PROTOCOL = {
    "programs_seen": "step x batch_size at the evaluation point",
    "seconds": "the trainer's wall clock at the evaluation point (metrics.csv elapsed_s): compilation, "
               "validation, checkpoint saves and waiting for the stream's program generation included",
    "exact_match": "teacher-forced on the benchmark's test set (jaxlua.train.step.make_eval_step: every output "
                   "token is the argmax, the token exact match of greedy decoding); a program that does not fit "
                   "the recipe's max_len counts as wrong",
    "greedy_exact_match": "the last checkpoint's greedy decoding through jaxlua.eval.evaluator, decoded stdout "
                          "equal to the true stdout byte for byte; unscored programs count as wrong",
    "loss": "teacher-forced mean negative log-likelihood per output token (EOS included) on the test programs "
            "that fit",
    "reach": "the first evaluation point whose exact match is at or above the bar; null if none",
    "seen_in_training": "test programs whose record key is in the run's stream key log (the programs generated "
                        "for training: those trained on, and at most the queue ahead of the last step)",
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named training recipe: what it is, and its TrainConfig changes from DEFAULT (the main job's recipe)."""

    description: str
    changes: dict[str, Any]


RECIPES: dict[str, Recipe] = {
    "default": Recipe("the main job's recipe (jaxlua.config.DEFAULT) as is: mastery curriculum over the ladder, "
                      "TinyPy and levels 1-3, program recall", {}),
    "no_recall": Recipe("the main job's recipe without program recall", {"recall_dim": 0}),
    "no_curriculum": Recipe("the main job's recipe with the levels taking turns (no mastery curriculum)",
                            {"curriculum": "none"}),
    "previous": Recipe("the previous main job: levels 1-7 taking turns, no recall, validation every 200 steps",
                       {"curriculum": "none", "levels": "1,2,3,4,5,6,7", "recall_dim": 0, "eval_interval": 200}),
    "conv": Recipe("the main job's recipe with a causal convolution of width 4 before each cell", {"conv_width": 4}),
    "minlstm": Recipe("the MinLSTM cell in place of the MinGRU", {"cell": "minlstm"}),
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything one benchmark run needs; each field is also a flag."""

    recipes: tuple[str, ...] = option(("default", "previous"), "Recipes to train, in order: "
                                      f"{', '.join(RECIPES)}, or one defined with --set.")
    budget_s: float = option(DEFAULT.time_budget_s, "Wall-clock seconds of training per recipe.")
    levels: str = option("", "Levels every recipe trains and is tested on (empty: each recipe's own levels, "
                         "tested on all of them).")
    heldout_per_level: int = option(DEFAULT.heldout_per_level, "Programs per level in the test set (and in each "
                                    "recipe's own validation and test sets).")
    seed: int = option(0, "Seed of the test set and of every run.")
    out: str = option("runs/learning", "Benchmark folder: the held-out set and one workdir per recipe.")
    results_dir: str = option("results", "Where learning_<recipe>_<backend>.json go (empty: nowhere).")
    overwrite: bool = option(False, "Replace existing result files.")
    eval_interval: int = option(0, "Steps between evaluation points (0: each recipe's own eval_interval; another "
                                "value also changes how often a curriculum that follows validation adapts).")
    greedy: bool = option(True, "Also score the last checkpoint by greedy decoding (the evaluator).")
    progress: bool = option(True, "Show progress bars.")

    def validate(self) -> "Options":
        """Raises ValueError naming the first bad option."""
        if self.budget_s <= 0:
            raise ValueError(f"--budget_s must be > 0; got {self.budget_s}")
        bench_common.check_positive(self, "heldout_per_level")
        if self.eval_interval < 0:
            raise ValueError(f"--eval_interval must be >= 0; got {self.eval_interval}")
        if not self.recipes or len(set(self.recipes)) != len(self.recipes):
            raise ValueError(f"--recipes must be a non-empty list of distinct names; got {','.join(self.recipes)}")
        parse_levels(self.levels)
        return self


def parse_levels(text: str) -> tuple[int, ...] | None:
    """`--levels` as distinct generator levels, None when empty (ValueError naming the flag)."""
    if not text.strip():
        return None
    try:
        return TrainConfig(levels=text).stream_levels
    except ValueError as exc:
        raise ValueError(f"--levels: {exc}") from None


def parse_value(text: str) -> Any:
    """A --set value: JSON (numbers, true/false, quoted strings), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_set(specs: list[str]) -> dict[str, Recipe]:
    """Ad-hoc recipes from `--set NAME=KEY:VALUE,KEY:VALUE` (a comma not followed by `key:` stays in the value,
    so `levels:4,5` works); ValueError naming the problem."""
    recipes = {}
    for spec in specs:
        name, sep, body = spec.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise ValueError(f"--set {spec!r}: write NAME=KEY:VALUE,KEY:VALUE with NAME of a-z, 0-9 and _")
        if name in RECIPES or name in recipes:
            raise ValueError(f"--set {spec!r}: recipe {name} is already defined")
        changes = {}
        for pair in re.split(r",(?=\s*[A-Za-z_]\w*\s*:)", body):
            key, colon, value = pair.partition(":")
            if not colon or not key.strip():
                raise ValueError(f"--set {spec!r}: {pair!r} is not KEY:VALUE")
            changes[key.strip()] = parse_value(value.strip())
        description = "ad hoc: " + ", ".join(f"{k}={v}" for k, v in changes.items())
        recipes[name] = Recipe(description, changes)
    return recipes


def recipe_levels(own: tuple[int, ...], names_levels: bool, chosen: tuple[int, ...] | None) -> tuple[int, ...]:
    """The levels a recipe trains on: its own without `--levels`; else `chosen`, in the recipe's order when it
    names one (restricted to `chosen`, the missing ones appended)."""
    if chosen is None:
        return own
    if not names_levels:
        return chosen
    kept = tuple(level for level in own if level in chosen)
    return kept + tuple(level for level in chosen if level not in kept)


def recipe_config(name: str, recipe: Recipe, options: Options) -> TrainConfig:
    """DEFAULT with the recipe's changes and the benchmark's settings (budget, seed, held-out size, levels, a
    checkpoint at every evaluation point); ValueError naming the recipe when they do not fit."""
    try:
        changed = DEFAULT.replace(**recipe.changes)
        if not changed.stream:
            raise ValueError("the benchmark trains on the program stream (stream=True)")
        levels = recipe_levels(changed.stream_levels, "levels" in recipe.changes, parse_levels(options.levels))
        eval_interval = options.eval_interval or changed.eval_interval
        settings = {"time_budget_s": options.budget_s, "seed": options.seed, "eval_interval": eval_interval,
                    "checkpoint_interval": eval_interval, "max_to_keep": MAX_TO_KEEP,
                    "levels": ",".join(map(str, levels))}
        if "heldout_per_level" not in recipe.changes:
            settings["heldout_per_level"] = options.heldout_per_level
        return changed.replace(**settings)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"recipe {name}: {exc}") from None


def test_levels(configs: dict[str, TrainConfig], options: Options) -> tuple[int, ...]:
    """The levels of the test set: `--levels`, else every level some recipe trains on, in numeric order."""
    chosen = parse_levels(options.levels)
    if chosen is not None:
        return chosen
    return tuple(sorted({level for config in configs.values() for level in config.stream_levels}))


def base_config(levels: tuple[int, ...], options: Options) -> TrainConfig:
    """The base settings whose stream test set is the benchmark's: DEFAULT at these levels, size and seed."""
    return DEFAULT.replace(levels=",".join(map(str, levels)), heldout_per_level=options.heldout_per_level,
                           seed=options.seed)


def result_path(options: Options, name: str) -> pathlib.Path | None:
    """RESULTS_DIR/learning_<recipe>_<backend>.json (bench_common's naming), None without a results folder."""
    if not options.results_dir:
        return None
    return pathlib.Path(options.results_dir).expanduser() / bench_common.default_out_path(f"learning_{name}").name


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one invocation does, checked before anything is computed."""

    options: Options
    recipes: dict[str, Recipe]
    configs: dict[str, TrainConfig]
    levels: tuple[int, ...]
    base: TrainConfig
    out: pathlib.Path


def make_plan(options: Options, set_specs: list[str]) -> Plan:
    """The checked plan (ValueError naming the first problem): known recipes with valid configs, result files
    that may be written, an OUT whose held-out set and finished runs match these settings."""
    options.validate()
    known = {**RECIPES, **parse_set(set_specs)}
    unknown = [name for name in options.recipes if name not in known]
    if unknown:
        raise ValueError(f"--recipes: unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(known)} "
                         "or define one with --set")
    recipes = {name: known[name] for name in options.recipes}
    configs = {name: recipe_config(name, recipe, options) for name, recipe in recipes.items()}
    traced = [name for name, config in configs.items() if config.targets != DEFAULT.targets]
    if traced:  # its test set is the stream's own, without traces; scoring would fail after the training
        raise ValueError(f"recipe(s) {', '.join(traced)} change targets, which the benchmark's shared test set "
                         f"cannot score (it holds no traces); train with experiments.train --stream --targets and "
                         f"evaluate with experiments.evaluate instead")
    levels = test_levels(configs, options)
    base = base_config(levels, options)
    out = pathlib.Path(options.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is not a directory")
    for name in recipes:
        path = result_path(options, name)
        if path is not None and path.exists() and not options.overwrite:
            raise ValueError(f"{path} exists; pass --overwrite to replace it, or another --results_dir")
    held = out / "heldout" / HELDOUT_FILE
    if held.is_file() and json.loads(held.read_text(encoding="utf-8")) != heldout_settings(base):
        raise ValueError(f"{out}/heldout was made with other settings ({held}); use another --out")
    if out.is_dir() and not held.is_file() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise ValueError(f"--out {out} holds files that experiments.bench_learning did not write; use another --out")
    for name, config in configs.items():
        workdir = out / name
        if workdir.exists() and not (workdir / MARKER_FILE).is_file():
            raise ValueError(f"{workdir} is not a run of experiments.bench_learning; use another --out")
        for finished in (RUN_FILE, TRAINED_FILE):
            path = workdir / finished
            if path.is_file() and json.loads(path.read_text(encoding="utf-8"))["config"] != config_dict(config):
                raise ValueError(f"{workdir} holds a run of recipe {name} with other settings; use another --out")
    return Plan(options, recipes, configs, levels, base, out)


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """`config.to_dict()` as it reads back from JSON (what saved runs are compared with)."""
    return json.loads(json.dumps(config.to_dict()))


def heldout_settings(base: TrainConfig) -> dict[str, Any]:
    """What identifies the benchmark's test set."""
    return {"source": "the stream's test set of jaxlua.config.DEFAULT at these settings",
            "levels": list(base.stream_levels), "heldout_per_level": base.heldout_per_level, "seed": base.seed}


def write_heldout(out: pathlib.Path, base: TrainConfig, progress: bool) -> pathlib.Path:
    """OUT/heldout: the base stream's validation and test programs as a dataset folder (train split empty)."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data.writer import record_line
    from jaxlua.io import atomic_write_text
    from jaxlua.data.run_data import open_stream_for

    target = out / "heldout"
    if (target / HELDOUT_FILE).is_file():
        return target
    with open_stream_for(base, progress=progress) as stream:
        splits = {"train": [], "val": stream.val_records, "test": stream.test_records}
    tmp = out / ".heldout.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for split, records in splits.items():
        (tmp / f"{split}.jsonl").write_text("".join(record_line(r) for r in records), encoding="utf-8")
    atomic_write_text(tmp / HELDOUT_FILE, json.dumps(heldout_settings(base), indent=2))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def level_counts(records: list[dict]) -> dict[str, int]:
    """Test programs per level (keys are level strings, in numeric order)."""
    counts: dict[str, int] = {}
    for record in sorted(records, key=lambda r: int(r["level"])):
        counts[str(record["level"])] = counts.get(str(record["level"]), 0) + 1
    return counts


def exact_match_by_level(correct: dict[str, bool], records: list[dict]) -> dict[str, Any]:
    """Exact match overall and per level over every test record (one missing from `correct` counts as wrong)."""
    counts = level_counts(records)
    hits: dict[str, int] = {level: 0 for level in counts}
    for record in records:
        hits[str(record["level"])] += bool(correct.get(str(record["id"]), False))
    total = sum(counts.values())
    return {"exact_match": sum(hits.values()) / total,
            "by_level": {level: hits[level] / counts[level] for level in counts}}


class Scorer:
    """Restores a run's checkpoints and scores the test set with teacher-forced exact match (make_eval_step)."""

    def __init__(self, workdir: pathlib.Path, config: TrainConfig, records: list[dict], batch_size: int = 64):
        # pylint: disable=import-outside-toplevel
        from jaxlua.train.batching import Arrays, bucket_edges, eval_batches
        from jaxlua.data.run_data import encode_split, make_tokenizer
        from jaxlua.workdir_files import VOCAB_FILE
        from jaxlua.train.checkpoint import Checkpoints
        from jaxlua.train.model_state import build_model, count_params, initial_train_state
        from jaxlua.train.step import make_eval_step

        self.workdir, self.config, self.records = workdir, config, records
        self.tokenizer = make_tokenizer(config.tokenizer)
        self.vocab = self.tokenizer.load_vocabulary(workdir / VOCAB_FILE)
        self.dataset = encode_split(records, config, self.tokenizer, self.vocab, f"{workdir} (benchmark test set)")
        self.ids = [str(i) for i in self.dataset.ids]
        self._batches = []
        if len(self.dataset):
            arrays = Arrays.from_encoded(self.dataset)
            edges = bucket_edges(arrays.lengths, config.num_buckets, config.model.max_len)
            self._batches = eval_batches(arrays, batch_size, edges)
        model = build_model(config, len(self.vocab))
        self._target, self._graphs = initial_train_state(model, config)
        self.params = count_params(self._target.params)
        self._step = make_eval_step(self._graphs.eval_def, config)
        self._checkpoints = Checkpoints(workdir, config.max_to_keep, read_only=True)

    def steps(self) -> list[int]:
        """The saved evaluation points, oldest first."""
        return self._checkpoints.steps()

    def restore(self, step: int) -> Any:
        """The TrainState saved at `step`."""
        return self._checkpoints.restore(self._target, step=step)[0]

    def score(self, step: int) -> dict[str, Any]:
        """Teacher-forced exact match of the checkpoint at `step`, overall and per level, and the loss (mean
        negative log-likelihood per output token, EOS included) over the programs that fit."""
        import jax  # pylint: disable=import-outside-toplevel
        import numpy as np  # pylint: disable=import-outside-toplevel

        state = self.restore(step)
        correct: dict[str, bool] = {}
        nll = tokens = 0.0
        for batch in self._batches:
            arrays = {k: v for k, v in batch.items() if k != "row"}
            out = jax.device_get(self._step(state.params, state.rest, arrays))
            real = np.asarray(batch["row"]) >= 0
            nll += float(np.asarray(out["nll"])[real].sum())
            tokens += float(np.asarray(out["tokens"])[real].sum())
            for row, hit in zip(np.asarray(batch["row"])[real], np.asarray(out["correct"])[real]):
                correct[self.ids[int(row)]] = bool(hit)
        return {**exact_match_by_level(correct, self.records), "loss": nll / tokens if tokens else None}

    def greedy(self, step: int, progress: bool) -> dict[str, Any]:
        """Greedy-decoded exact match of the checkpoint at `step` through the evaluator; its predictions go to
        workdir/predictions_benchmark_test.jsonl."""
        # pylint: disable=import-outside-toplevel
        from flax import nnx

        from jaxlua.data.run_data import longest_target
        from jaxlua.eval.evaluator import evaluate_split, write_predictions

        if not len(self.dataset):
            return {**exact_match_by_level({}, self.records), "step": step, "seconds": 0.0}
        begin = time.perf_counter()
        state = self.restore(step)
        model = nnx.merge(self._graphs.eval_def, state.params, state.rest)
        model.eval()
        evaluation = evaluate_split(model, self.dataset, self.tokenizer, self.vocab, records=self.records,
                                    batch_size=64, max_new_tokens=longest_target(self.config.targets), num_samples=0,
                                    latency_programs=0, seed=self.config.seed, progress=progress,
                                    targets=self.config.targets)
        write_predictions(self.workdir, evaluation.predictions, "metrics_benchmark_test.json")
        correct = {str(p["id"]): bool(p["exact_match"]) for p in evaluation.predictions}
        return {**exact_match_by_level(correct, self.records), "step": step,
                "token_exact_match": evaluation.metrics.get("token_exact_match"),
                "seconds": round(time.perf_counter() - begin, 1)}

    def close(self) -> None:
        self._checkpoints.close()


def reach(curve: list[dict[str, Any]], levels: list[str]) -> dict[str, Any]:
    """Per bar: the first point (step, programs, seconds) at or above it, overall and per level; None if none."""
    def first(values: list[float], bar: float) -> dict[str, Any] | None:
        for point, value in zip(curve, values):
            if value >= bar:
                return {"step": point["step"], "programs_seen": point["programs_seen"], "seconds": point["seconds"]}
        return None

    result = {}
    for bar in BARS:
        result[str(bar)] = {
            "all": first([p["exact_match"] for p in curve], bar),
            "by_level": {level: first([p["by_level"][level] for p in curve], bar) for level in levels},
        }
    return result


def seen_in_training(workdir: pathlib.Path, records: list[dict]) -> dict[str, Any]:
    """Test programs whose record key is in the run's stream key log, overall and per level."""
    import numpy as np  # pylint: disable=import-outside-toplevel

    path = workdir / STREAM_KEYS_FILE
    keys = set(np.fromfile(path, "<u8").tolist()) if path.is_file() else set()
    by_level = {level: 0 for level in level_counts(records)}
    for record in records:
        by_level[str(record["level"])] += int(str(record["id"]), 16) in keys
    return {"n": sum(by_level.values()), "by_level": by_level, "keys_logged": len(keys),
            "key_log": path.name if path.is_file() else None}


def train_recipe(workdir: pathlib.Path, config: TrainConfig, progress: bool) -> dict[str, Any]:
    """Train (or reuse the finished training of) one recipe; its training summary."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.cli.experiment import run_experiment

    trained = workdir / TRAINED_FILE
    if trained.is_file():
        summary = json.loads(trained.read_text(encoding="utf-8"))
        if summary["config"] == config_dict(config):
            return summary
    if workdir.exists():  # a run cut short: its budget cannot be resumed fairly (the plan checked the marker)
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER_FILE).write_text(json.dumps({"recipe": workdir.name}), encoding="utf-8")
    summary = run_experiment(config, workdir, None, progress=progress)["train"]
    summary = {**{key: summary[key] for key in ("steps", "params", "seconds", "best_val_loss", "data_pipeline")},
               "config": config_dict(config)}
    trained.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def run_recipe(plan: Plan, name: str, records: list[dict], environment: dict[str, Any]) -> dict[str, Any]:
    """Train one recipe, score every evaluation point and the final model; its result (also RUN_FILE)."""
    from jaxlua.train.writers import validation_curve  # pylint: disable=import-outside-toplevel

    options, config, recipe = plan.options, plan.configs[name], plan.recipes[name]
    workdir = plan.out / name
    saved = workdir / RUN_FILE
    if saved.is_file():
        return json.loads(saved.read_text(encoding="utf-8"))
    trained = train_recipe(workdir, config, options.progress)
    seconds = {point["step"]: point for point in validation_curve(workdir)}
    levels = list(level_counts(records))
    begin = time.perf_counter()
    scorer = Scorer(workdir, config, records)
    try:
        steps = scorer.steps()
        missing = [step for step in steps if step not in seconds]
        if not steps or missing:
            raise RuntimeError(f"{workdir}: checkpoints at steps {steps}, validation rows missing for {missing}")
        points = []
        for step in tqdm(steps, desc=f"score {name}", unit="ckpt", disable=not options.progress, file=sys.stderr):
            score = scorer.score(step)
            points.append({"step": step, "programs_seen": step * config.batch_size,
                           "seconds": seconds[step]["seconds"], **score,
                           "val_exact_match": seconds[step]["val_exact_match"],
                           "val_loss": seconds[step]["val_loss"]})
        greedy = scorer.greedy(steps[-1], options.progress) if options.greedy else None
        encode_report = scorer.dataset.report
    finally:
        scorer.close()
    final = points[-1]
    result = {
        "benchmark": "learning",
        "recipe": name,
        "description": recipe.description,
        "changes": recipe.changes,
        "config": config_dict(config),
        "environment": environment,
        "command": "python -m experiments.bench_learning " + " ".join(sys.argv[1:]),
        "protocol": PROTOCOL,
        "budget_s": options.budget_s,
        "seed": options.seed,
        "levels_trained": list(config.stream_levels),
        "levels_tested": [int(level) for level in levels],
        "test_set": {"folder": str(plan.out / "heldout"), **heldout_settings(plan.base), "n": len(records),
                     "n_by_level": level_counts(records), "encode_report": encode_report},
        "batch_size": config.batch_size,
        "eval_interval": config.eval_interval,
        "steps": trained["steps"],
        "programs_seen": trained["steps"] * config.batch_size,
        "train_seconds": trained["seconds"],
        "params": trained["params"],
        "curve": points,
        "reach": reach(points, levels),
        "final": {"step": final["step"], "programs_seen": final["programs_seen"], "seconds": final["seconds"],
                  "exact_match": final["exact_match"], "by_level": final["by_level"], "greedy": greedy},
        "seen_in_training": seen_in_training(workdir, records),
        "score_seconds": round(time.perf_counter() - begin, 1),
    }
    bench_common.finish_environment(result)
    saved.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def summary_line(result: dict[str, Any]) -> str:
    """One line per recipe: steps, programs, final exact match overall and per level."""
    levels = " ".join(f"L{lv} {100 * em:.1f}%" for lv, em in result["final"]["by_level"].items())
    return (f"{result['recipe']}: {result['steps']} steps, {result['programs_seen']:,} programs, "
            f"{result['train_seconds']:.0f} s; test EM {100 * result['final']['exact_match']:.1f}% ({levels})")


def run(plan: Plan) -> dict[str, dict[str, Any]]:
    """The benchmark: the test set, then every recipe in turn; returns {recipe: result} (results written)."""
    # pylint: disable=import-outside-toplevel
    from absl import logging

    from jaxlua.cli.experiment import interrupt_on_sigterm, quiet_orbax_info_logs
    from jaxlua.data import load_split

    quiet_orbax_info_logs()
    interrupt_on_sigterm()
    plan.out.mkdir(parents=True, exist_ok=True)
    heldout = write_heldout(plan.out, plan.base, plan.options.progress)
    records = load_split(heldout, "test")
    results = {}
    for index, name in enumerate(plan.recipes):
        logging.info("[%d/%d] %s: %s", index + 1, len(plan.recipes), name, plan.recipes[name].description)
        environment = bench_common.environment("shared; see load averages")
        result = run_recipe(plan, name, records, environment)
        path = result_path(plan.options, name)
        if path is not None:
            bench_common.write_result(result, path, f"learning_{name}")
        results[name] = result
    for result in results.values():
        print(summary_line(result))
    return results


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, with a parse error as one line and exit code 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as exc:
        bench_common.bad_flag(SCRIPT, str(exc))


def stopped(message: object) -> NoReturn:
    """A run stopped by a signal or a diverged loss: one line, exit code 1 (re-running continues)."""
    sys.stderr.write(f"{SCRIPT}: {message}\n")
    sys.exit(1)


def main(argv: list[str]) -> None:
    plan = bench_common.options_or_exit(
        SCRIPT, argv, lambda: make_plan(bench_common.options_from_flags(Options), flags.FLAGS.set))
    from jaxlua.train.loop import TrainingDivergedError, TrainingInterrupted  # pylint: disable=import-outside-toplevel

    try:
        run(plan)
    except (TrainingDivergedError, TrainingInterrupted) as exc:
        stopped(f"{exc} (a recipe cut short trains again from the start: re-run the same command to continue the "
                "benchmark)")
    except KeyboardInterrupt:
        stopped("stopped outside the training steps; re-run the same command to continue the benchmark")


if __name__ == "__main__":
    bench_common.define_flags(Options)
    flags.DEFINE_multi_string("set", [], "An ad-hoc recipe, NAME=KEY:VALUE,KEY:VALUE (TrainConfig fields changed "
                              "from DEFAULT; values are JSON, else text); name it in --recipes to run it.")
    app.run(main, flags_parser=parse_flags)
