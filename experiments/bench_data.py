"""Throughput of the data pipeline, printed as JSON.

    python -m experiments.bench_data [--num_programs 20000] [--sample_programs 3000] [--levels 1,2,3]

Stages (programs/s): generation (one core), run_lua (worker process, the untrusted path), the in-process
sandbox used by pool workers (one core), the whole dataset build (all cores: generate + run + de-dup +
split + write), and tokenisation with `Tokenizer("semantic")` (one core; null with the reason if the
tokenizer cannot be imported). The 1M projection divides 10^6 by the measured build rate. Each figure
also comes per CPU second: on a shared machine the wall rates fall with the load (`load_avg_1m`), and
`*_idle_estimate` is what the same CPU work gives when the pool has its cores to itself.
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
from jaxlua.lua.generator import LEVELS, ProgramGenerator

_NUM_PROGRAMS = flags.DEFINE_integer("num_programs", 20_000, "Programs in the whole-build benchmark.")
_SAMPLE = flags.DEFINE_integer("sample_programs", 3000, "Programs in each single-stage benchmark.")
_LEVELS = flags.DEFINE_string("levels", "1,2,3", "Comma-separated levels to benchmark.")
_SEED = flags.DEFINE_integer("seed", 0, "Generator seed.")
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


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.stderr.write(f"bench_data: unexpected arguments {argv[1:]}\n")
        sys.exit(2)
    try:
        levels = tuple(int(x) for x in _LEVELS.value.split(","))
        if any(level not in LEVELS for level in levels) or _NUM_PROGRAMS.value < 1 or _SAMPLE.value < 1:
            raise ValueError
    except ValueError:
        sys.stderr.write(f"bench_data: --levels must be from {list(LEVELS)}, counts positive\n")
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
    }, indent=2)
    print(report)
    if _OUT.value:
        out = pathlib.Path(_OUT.value)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report + "\n")


if __name__ == "__main__":
    app.run(main)
