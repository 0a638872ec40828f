"""Throughput of the data pipeline, printed as JSON.

    python -m experiments.bench_data [--num_programs 20000] [--sample_programs 3000] [--levels 1,2,3]
                                     [--coverage_programs 1000] [--stream=false] [--stream_levels 4,5,6,7]

Stages (programs/s): generation (one core), run_lua (worker process, the untrusted path), the in-process
sandbox used by pool workers (one core), the whole dataset build (all cores: generate + run + de-dup +
split + write), and tokenisation with `Tokenizer("semantic")` (one core; null with the reason if the
tokenizer cannot be imported). The 1M projection divides 10^6 by the measured build rate. Each figure
also comes per CPU second: on a shared machine the wall rates fall with the load (`load_avg_1m`), and
`*_idle_estimate` is what the same CPU work gives when the pool has its cores to itself.

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

import datetime
import json
import os
import pathlib
import platform
import resource
import sys
import tempfile
import time

from absl import app, flags

from jaxlua.data.build import build_dataset, default_workers
from jaxlua.lua import LuaSandbox, run_lua
from jaxlua.lua.coverage import summarise
from jaxlua.lua.generator import GENERATOR_VERSION, LEVELS, ProgramGenerator

_NUM_PROGRAMS = flags.DEFINE_integer("num_programs", 20_000, "Programs in the whole-build benchmark.")
_SAMPLE = flags.DEFINE_integer("sample_programs", 3000, "Programs in each single-stage benchmark.")
_LEVELS = flags.DEFINE_string("levels", "1,2,3", "Comma-separated levels to benchmark.")
_SEED = flags.DEFINE_integer("seed", 0, "Generator seed.")
_COVERAGE = flags.DEFINE_integer("coverage_programs", 1000, "Programs per level in the coverage report (0: skip).")
_STREAM = flags.DEFINE_bool("stream", True, "Measure the program stream against the train step (false: skip).")
_STREAM_LEVELS = flags.DEFINE_string("stream_levels", "4,5,6,7", "Comma-separated levels of the stream section.")
_STREAM_BATCHES = flags.DEFINE_integer("stream_batches", 100, "Producer batches timed in the stream section.")
_STREAM_STEPS = flags.DEFINE_integer("stream_train_steps", 20, "Train steps timed in the stream section.")
_STREAM_WORKERS = flags.DEFINE_integer("stream_workers", 0, "Stream worker processes (0: the stream's default).")
_OUT = flags.DEFINE_string("out", "results/bench_data_cpu.json", "Also write the JSON here ('' to skip).")


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


class _Clock:
    """Wall and CPU seconds of this process and its finished children (worker pools) over a block."""

    def __enter__(self) -> "_Clock":
        self._wall, self._cpu = time.perf_counter(), self._cpu_now()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = self._cpu_now() - self._cpu

    @staticmethod
    def _cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime


def bench_tokenize(records: list[tuple[str, str]]) -> tuple[float | None, str | None]:
    """programs/s of program_tokens + output_tokens, or (None, reason) if the tokenizer is unavailable."""
    try:
        from jaxlua.tokenize import Tokenizer
        tokenizer = Tokenizer("semantic")
    except Exception as exc:  # the tokenizer is another module: report, never crash the benchmark
        return None, f"{type(exc).__name__}: {exc}"
    started = time.perf_counter()
    try:
        for source, stdout in records:
            tokenizer.program_tokens(source)
            tokenizer.output_tokens(stdout)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return _rate(len(records), time.perf_counter() - started), None


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
    import dataclasses

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
        compiled, timed, seconds, step = set(), 0, 0.0, 0
        while timed < train_steps:
            batch = source.batch(step, CurriculumState())
            step += 1
            width = batch["tokens"].shape[1]
            begin = time.perf_counter()
            state, metrics = step_fn(state, dp.shard_batch(batch), rng)
            jax.block_until_ready(metrics["loss"])
            if width in compiled:
                timed, seconds = timed + 1, seconds + time.perf_counter() - begin
            compiled.add(width)
    steps_per_s = timed / seconds
    return {"levels": list(levels), "producer": producer,
            "train_step": {"model": config.model.cell, "batch_size": config.batch_size,
                           "max_len": config.model.max_len, "timed_steps": timed, "steps_run": step,
                           "compiled_widths": sorted(compiled), "steps_per_s": round(steps_per_s, 2),
                           "programs_per_s": round(steps_per_s * config.batch_size, 1),
                           "device": jax.devices()[0].platform, "jax": jax.__version__},
            "producer_batches_per_train_step": round(producer["batches_per_s"] / steps_per_s, 2)}


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.stderr.write(f"bench_data: unexpected arguments {argv[1:]}\n")
        sys.exit(2)
    try:
        levels = tuple(int(x) for x in _LEVELS.value.split(","))
        stream_levels = tuple(int(x) for x in _STREAM_LEVELS.value.split(","))
        if any(level not in LEVELS for level in levels + stream_levels) or _NUM_PROGRAMS.value < 1 \
                or _SAMPLE.value < 1 or _COVERAGE.value < 0 or _STREAM_BATCHES.value < 1 \
                or _STREAM_STEPS.value < 1 or _STREAM_WORKERS.value < 0:
            raise ValueError
    except ValueError:
        sys.stderr.write(f"bench_data: --levels and --stream_levels must be from {list(LEVELS)}, counts positive "
                         "(--coverage_programs and --stream_workers may be 0)\n")
        sys.exit(2)
    n = _SAMPLE.value

    generator = ProgramGenerator(_SEED.value)
    with _Clock() as generation:
        sources = [generator.sample(levels[i % len(levels)]) for i in range(n)]

    sandbox = LuaSandbox()
    with _Clock() as in_process:
        results = [sandbox.run(source, max_steps=generator.config.max_steps) for source in sources]

    run_lua("print(0)")  # start the worker outside the timing (its CPU time is not visible here)
    with _Clock() as worker:
        for source in sources:
            run_lua(source)

    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp, _Clock() as build:
        meta = build_dataset(tmp, _NUM_PROGRAMS.value, levels, _SEED.value, workers=workers, progress=False)
    built = meta["total"]
    # CPU seconds of the parent and the pool: the build rate an otherwise idle machine with `workers` cores
    # would reach if the work spreads evenly (the wall rate below depends on what else the machine runs).
    idle_rate = built / (build.cpu / workers)

    ok = [(s, r.stdout) for s, r in zip(sources, results) if r.ok]
    tokenize, tokenize_error = bench_tokenize(ok)

    report = json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "workers": workers, "processor": platform.processor(),
                    "python": platform.python_version(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "levels": list(levels),
        "generation_programs_per_s": _rate(n, generation.wall),
        "generation_programs_per_cpu_s": _rate(n, generation.cpu),
        "sandbox_in_process_programs_per_s": _rate(n, in_process.wall),
        "sandbox_in_process_programs_per_cpu_s": _rate(n, in_process.cpu),
        "run_lua_programs_per_s": _rate(n, worker.wall),
        "build_programs": built,
        "build_seconds": round(build.wall, 2),
        "build_cpu_seconds": round(build.cpu, 2),
        "build_programs_per_s": _rate(built, build.wall),
        "projected_1m_minutes": round(1e6 / (built / build.wall) / 60, 1),
        "build_programs_per_s_idle_estimate": round(idle_rate, 1),
        "projected_1m_minutes_idle_estimate": round(1e6 / idle_rate / 60, 1),
        "tokenize_programs_per_s": tokenize,
        "tokenize_error": tokenize_error,
        "coverage": coverage_report(_COVERAGE.value, _SEED.value) if _COVERAGE.value else None,
        "stream": stream_report(stream_levels, _STREAM_WORKERS.value, _STREAM_BATCHES.value, _STREAM_STEPS.value,
                                _SEED.value) if _STREAM.value else None,
    }, indent=2)
    print(report)
    if _OUT.value:
        out = pathlib.Path(_OUT.value)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report + "\n")


if __name__ == "__main__":
    app.run(main)
