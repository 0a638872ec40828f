"""Throughput of the data pipeline, printed as JSON.

    python -m experiments.bench_data [--num_programs 20000] [--sample_programs 3000] [--levels 1,2,3]
                                     [--coverage_programs 1000] [--stream=false] [--stream_levels 4,5,6,7]
    python -m experiments.bench_data --tokenize_only --out results/bench_tokenize_cpu.json

Stages (programs/s): generation (one core), run_lua (worker process, the untrusted path), the in-process
sandbox used by pool workers (one core), the whole dataset build (all cores: generate + run + de-dup +
split + write), and tokenisation with `Tokenizer("semantic")` (one core; null with the reason if the
tokenizer cannot be imported; `tokenizer` times the training default (canonical identifiers, read off the
lexemes), the same walking the tree, and names, side by side on one core in CPU seconds, split into the
tree-sitter parse and the rest; `--tokenize_only` runs just that).
The 1M projection divides 10^6 by the measured build rate. Each figure
also comes per CPU second: on a shared machine the wall rates fall with the load (the `environment` entry's
load averages), and `*_idle_estimate` is what the same CPU work gives when the pool has its cores to itself.
Wall times come from `bench_common.time_call` (one call per stage); the JSON goes to `--out` (default
results/bench_data_<backend>.json).

The coverage report samples `--coverage_programs` programs per level (all levels): the share that the sandbox
accepts (status ok, output within the generator's bounds), the share using each construct
(jaxlua.lua.coverage), and distinct string literals and identifiers per 1,000 programs.

The stream section (`--stream`, on by default) sets what the program stream produces against what training
consumes: producer batches/s and programs/s at the default batch size and max_len
(jaxlua.data.stream_measure.producer_throughput, `--stream_batches` after a warm-up), and steps/s of the default
model's train step on streamed batches of the same levels, timed over `--stream_train_steps` steps whose batch
width was already compiled (the first batch of each width compiles, untimed). The trainer never waits while
`producer_batches_per_s / train_steps_per_s` stays above 1 with the trainer's cores to itself.
"""
from __future__ import annotations

import dataclasses
import resource
import sys
import tempfile
import time
from typing import Any, Callable, TypeVar

from absl import app, flags

from experiments import bench_common
from experiments.bench_common import option
from jaxlua.data.build import build_dataset, default_workers
from jaxlua.lua import LuaSandbox, run_lua
from jaxlua.lua.coverage import summarise
from jaxlua.lua.generator import GENERATOR_VERSION, LEVELS, ProgramGenerator

SCRIPT = "bench_data"
MACHINE_NOTE = "shared machine: wall rates fall with the load (see load_avg); the per CPU second rates do not"
FLAGS = flags.FLAGS
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything one benchmark run needs; each field is also a flag."""

    num_programs: int = option(20_000, "Programs in the whole-build benchmark.")
    sample_programs: int = option(3000, "Programs in each single-stage benchmark.")
    levels: tuple[int, ...] = option((1, 2, 3), "Levels to benchmark.")
    seed: int = option(0, "Generator seed.")
    coverage_programs: int = option(1000, "Programs per level in the coverage report (0: skip).")
    stream: bool = option(True, "Measure the program stream against the train step (false: skip).")
    stream_levels: tuple[int, ...] = option((4, 5, 6, 7), "Levels of the stream section.")
    stream_batches: int = option(100, "Producer batches timed in the stream section.")
    stream_train_steps: int = option(20, "Train steps timed in the stream section.")
    stream_workers: int = option(0, "Stream worker processes (0: the stream's default).")
    tokenize_only: bool = option(False, "Only the tokenizer section: generate and run the sample, then time "
                                        "the tokenizer per identifier style (no build, coverage or stream).")

    def validate(self) -> "Options":
        """Raises ValueError naming the first bad option."""
        for name in ("levels", "stream_levels"):
            unknown = [level for level in getattr(self, name) if level not in LEVELS]
            if unknown:
                raise ValueError(f"--{name} must be from {', '.join(map(str, LEVELS))}; got "
                                 f"{','.join(map(str, getattr(self, name)))}")
        bench_common.check_positive(self, "num_programs", "sample_programs", "stream_batches", "stream_train_steps")
        for name in ("coverage_programs", "stream_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0; got {getattr(self, name)}")
        return self


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (worker pools): what the work cost, whatever the load."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """(fn(), wall seconds, CPU seconds) of one call: `bench_common.time_call` for the wall, `cpu_seconds` beside."""
    values: list[T] = []
    cpu = cpu_seconds()
    wall_ms = bench_common.time_call(lambda: values.append(fn()), repeats=1, warmup=0)[0]
    return values[0], wall_ms / 1e3, cpu_seconds() - cpu


def bench_tokenize(records: list[tuple[str, str]]) -> tuple[float | None, str | None]:
    """programs/s of program_tokens + output_tokens, or (None, reason) if the tokenizer is unavailable."""
    try:
        from jaxlua.tokenize import Tokenizer
        tokenizer = Tokenizer("semantic")
    except Exception as exc:  # the tokenizer is another module: report, never crash the benchmark
        return None, f"{type(exc).__name__}: {exc}"

    def tokenize_all() -> None:
        for source, stdout in records:
            tokenizer.program_tokens(source)
            tokenizer.output_tokens(stdout)

    try:
        _, wall, _ = timed(tokenize_all)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return _rate(len(records), wall), None


def tokenizer_report(records: list[tuple[str, str]], repeats: int = 5) -> dict[str, Any]:
    """Per tokenizer setting, side by side in one process: the training default (semantic, canonical identifiers,
    its tokens read off the lexemes), the same with the tree walked instead (`lexical=False`: same tokens), and
    names. Programs per CPU second of one core (`tokenization_throughput`, best of `repeats`), and where a
    program's time goes: the tree-sitter parse alone (best of `repeats` too) and the rest (the lexemes or the
    walk, in Python); for the default, the share of programs the fast path read itself."""
    from jaxlua.tokenize import Tokenizer, tokenization_throughput
    from jaxlua.tokenize.syntax import encode_source

    pairs = [{"source": source, "stdout": stdout} for source, stdout in records]
    data = [encode_source(source) for source, _ in records]
    report: dict[str, Any] = {"programs": len(records), "repeats": repeats, "clock": "process_time, one core"}
    settings = {"canonical": {"identifiers": "canonical"},
                "canonical_walk": {"identifiers": "canonical", "lexical": False},
                "names": {"identifiers": "names"}}
    for name, options in settings.items():
        tokenizer = Tokenizer("semantic", **options)
        parser = tokenizer._parser  # pylint: disable=protected-access
        parse = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            for source in data:
                parser.parse(source)
            parse = min(parse, time.process_time() - start)
        measured = tokenization_throughput(pairs, tokenizer, repeats)
        total_us = 1e6 / measured["programs_per_s"]
        parse_us = 1e6 * parse / len(data)
        report[name] = {
            "programs_per_s": round(measured["programs_per_s"], 1),
            "us_per_program": round(total_us, 1),
            "parse_us_per_program": round(parse_us, 1),
            "rest_us_per_program": round(total_us - parse_us, 1),
            "mean_program_chars": round(measured["mean_program_chars"], 1),
            "mean_program_tokens": round(measured["mean_program_tokens"], 1),
        }
        if name == "canonical":
            report[name].update(_fast_path_breakdown(tokenizer, [source for source, _ in records], repeats))
    report["fast_path_speedup"] = round(report["canonical"]["programs_per_s"]
                                        / report["canonical_walk"]["programs_per_s"], 3)
    return report


def _fast_path_breakdown(tokenizer, sources: list[str], repeats: int) -> dict[str, float]:
    """Of the default's time per program (µs, best of `repeats`): the regular-expression pass that finds the
    lexemes, and all of `lexical_tokens` (lexemes, renaming and tokens, without the parse); and the share of
    programs the fast path read itself (the others are walked)."""
    from jaxlua.tokenize.lexical import _LEXEME, lexical_tokens
    from jaxlua.tokenize.syntax import encode_source

    style = tokenizer._style  # pylint: disable=protected-access
    data = [encode_source(source) for source in sources]
    lexemes = lexical = float("inf")
    fast = 0
    for _ in range(repeats):
        start = time.process_time()
        for source in sources:
            _LEXEME.findall(source)
        lexemes = min(lexemes, time.process_time() - start)
        start = time.process_time()
        fast = 0
        for source, encoded in zip(sources, data):
            style.start(encoded)
            fast += lexical_tokens(source, style) is not None
        lexical = min(lexical, time.process_time() - start)
    return {"lexemes_us_per_program": round(1e6 * lexemes / len(sources), 1),
            "lexical_tokens_us_per_program": round(1e6 * lexical / len(sources), 1),
            "fast_path_share": round(fast / len(sources), 4)}


def coverage_report(count: int, seed: int) -> dict:
    """Per level: acceptance by the sandbox, construct shares, distinct strings and identifiers."""
    sandbox = LuaSandbox()
    report = {"generator_version": GENERATOR_VERSION, "programs_per_level": count, "levels": {}}
    for level in LEVELS:
        generator = ProgramGenerator(seed + level)
        sources = [generator.sample(level) for _ in range(count)]
        accepted = 0
        for source in sources:
            result = sandbox.run(source, max_steps=generator.config.max_steps)
            accepted += result.ok and generator.acceptable_output(result.stdout)
        report["levels"][str(level)] = {"accepted": round(accepted / count, 4), **summarise(sources)}
    return report


def stream_report(levels: tuple[int, ...], workers: int, batches: int, train_steps: int, seed: int) -> dict:
    """Producer throughput of the stream against the default model's train step on its batches (module doc)."""
    # pylint: disable=import-outside-toplevel
    import jax

    from jaxlua.config import DEFAULT
    from jaxlua.data.stream import StreamConfig, default_stream_workers, open_stream
    from jaxlua.data.stream_measure import producer_throughput
    from jaxlua.train.curriculum import CurriculumState
    from jaxlua.train.model_state import build_model, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.sharding import DataParallel
    from jaxlua.train.sources import StreamSource
    from jaxlua.train.step import make_train_step

    config = DEFAULT.replace(stream=True, levels=",".join(map(str, levels)), seed=seed)
    # Small held-out and vocabulary samples: they only delay the start, not the rates measured.
    stream_config = StreamConfig(levels=levels, seed=seed, batch_size=config.batch_size,
                                 max_len=config.model.max_len, num_buckets=config.num_buckets, heldout_per_level=50,
                                 vocab_per_level=200, workers=workers or default_stream_workers())
    producer = producer_throughput(stream_config, batches=batches)
    with open_stream(dataclasses.replace(stream_config, workers=1), progress=False) as stream:
        source = StreamSource(stream, config)
        dp = DataParallel()
        state, graphs = initial_train_state(build_model(config, len(stream.vocab)), config)
        state = dp.replicate(state)
        step_fn = make_train_step(graphs.train_def, make_optimizer(config), config, dp.shardings,
                                  loss_window=source.loss_window)
        rng = dp.replicate(jax.random.key(seed))
        compiled, timed_steps, seconds, step = set(), 0, 0.0, 0
        while timed_steps < train_steps:
            batch = source.batch(step, CurriculumState())
            step += 1
            width = batch["tokens"].shape[1]

            def train_step(batch=batch):
                nonlocal state
                state, metrics = step_fn(state, dp.shard_batch(batch), rng)
                return metrics["loss"]

            milliseconds = bench_common.time_call(train_step, repeats=1, warmup=0)[0]
            if width in compiled:
                timed_steps, seconds = timed_steps + 1, seconds + milliseconds / 1e3
            compiled.add(width)
    steps_per_s = timed_steps / seconds
    return {"levels": list(levels), "producer": producer,
            "train_step": {"model": config.model.cell, "batch_size": config.batch_size,
                           "max_len": config.model.max_len, "timed_steps": timed_steps, "steps_run": step,
                           "compiled_widths": sorted(compiled), "steps_per_s": round(steps_per_s, 2),
                           "programs_per_s": round(steps_per_s * config.batch_size, 1),
                           "device": jax.devices()[0].platform, "jax": jax.__version__},
            "producer_batches_per_train_step": round(producer["batches_per_s"] / steps_per_s, 2)}


def run(options: Options) -> dict[str, Any]:
    """Time every stage; the result dict that is printed and written."""
    options.validate()
    levels, n, seed = options.levels, options.sample_programs, options.seed
    result: dict[str, Any] = {"benchmark": "data", "command": " ".join(["python -m experiments.bench_data",
                                                                        *sys.argv[1:]]),
                              "environment": bench_common.environment(MACHINE_NOTE)}

    generator = ProgramGenerator(seed)
    sources, generation_wall, generation_cpu = timed(
        lambda: [generator.sample(levels[i % len(levels)]) for i in range(n)])

    sandbox = LuaSandbox()
    results, in_process_wall, in_process_cpu = timed(
        lambda: [sandbox.run(source, max_steps=generator.config.max_steps) for source in sources])

    if options.tokenize_only:
        ok = [(s, r.stdout) for s, r in zip(sources, results) if r.ok]
        result.update({"levels": list(levels), "seed": seed, "tokenizer": tokenizer_report(ok)})
        return bench_common.finish_environment(result)

    run_lua("print(0)")  # start the worker outside the timing (its CPU time is not visible here)
    _, worker_wall, _ = timed(lambda: [run_lua(source) for source in sources])

    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        meta, build_wall, build_cpu = timed(
            lambda: build_dataset(tmp, options.num_programs, levels, seed, workers=workers, progress=False))
    built = meta["total"]
    # CPU seconds of the parent and the pool: the build rate an otherwise idle machine with `workers` cores
    # would reach if the work spreads evenly (the wall rate below depends on what else the machine runs).
    idle_rate = built / (build_cpu / workers)

    ok = [(s, r.stdout) for s, r in zip(sources, results) if r.ok]
    tokenize, tokenize_error = bench_tokenize(ok)

    result.update({
        "levels": list(levels),
        "build_workers": workers,
        "generation_programs_per_s": _rate(n, generation_wall),
        "generation_programs_per_cpu_s": _rate(n, generation_cpu),
        "sandbox_in_process_programs_per_s": _rate(n, in_process_wall),
        "sandbox_in_process_programs_per_cpu_s": _rate(n, in_process_cpu),
        "run_lua_programs_per_s": _rate(n, worker_wall),
        "build_programs": built,
        "build_seconds": round(build_wall, 2),
        "build_cpu_seconds": round(build_cpu, 2),
        "build_programs_per_s": _rate(built, build_wall),
        "projected_1m_minutes": round(1e6 / (built / build_wall) / 60, 1),
        "build_programs_per_s_idle_estimate": round(idle_rate, 1),
        "projected_1m_minutes_idle_estimate": round(1e6 / idle_rate / 60, 1),
        "tokenize_programs_per_s": tokenize,
        "tokenize_error": tokenize_error,
        "tokenizer": tokenizer_report(ok),
        "coverage": coverage_report(options.coverage_programs, seed) if options.coverage_programs else None,
        "stream": stream_report(options.stream_levels, options.stream_workers, options.stream_batches,
                                options.stream_train_steps, seed) if options.stream else None,
    })
    return bench_common.finish_environment(result)


def main(argv: list[str]) -> None:
    options = bench_common.options_or_exit(SCRIPT, argv, lambda: bench_common.options_from_flags(Options).validate())
    bench_common.write_result(run(options), FLAGS.out, SCRIPT)


if __name__ == "__main__":
    bench_common.define_flags(Options)
    flags.DEFINE_string("out", None, "Output JSON path (default results/bench_data_<backend>.json).")
    app.run(main)
