"""Build a generated dataset with a process pool: generate, run in the sandbox, de-duplicate, split, write.

Work is cut into fixed-size chunks, each with its own generator seed derived from (seed, level, chunk), run
by a pool of fresh interpreter processes (workers.py), and results are consumed in chunk order. The dataset is therefore identical for any number of workers. Pool
workers run the project's own (trusted) programs in an in-process `LuaSandbox` with the instruction and
memory limits on; untrusted files go through `run_lua` instead (see importer.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import pathlib
import time

from absl import logging
from tqdm import tqdm

from jaxlua.data.traces import META_KEY as TRACE_META_KEY
from jaxlua.data.traces import trace_fields
from jaxlua.data.workers import WorkerPool
from jaxlua.data.writer import DatasetWriter, make_record, record_line
from jaxlua.lua.generator import GENERATOR_VERSION, LEVELS, GeneratorConfig, ProgramGenerator
from jaxlua.lua.sandbox import LuaSandbox

CHUNK_SIZE = 256  # part of the dataset's definition: changing it changes which programs a seed yields
MAX_ROUNDS = 50
_WORKER_SANDBOX: LuaSandbox | None = None


def lua_version() -> str:
    import lupa
    from lupa import lua54
    return f"Lua {'.'.join(map(str, lua54.LuaRuntime().lua_version))} (lupa {lupa.__version__})"


def chunk_seed(seed: int, level: int, chunk: int) -> int:
    """A 63-bit generator seed for one chunk, stable across machines and Python versions."""
    digest = hashlib.sha256(f"jaxlua:{seed}:{level}:{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generate_chunk(task: tuple[int, int, int, int, GeneratorConfig, bool]) -> list[tuple[str, str]]:
    """Run in a pool worker: `count` verified programs of one chunk as (hash, json line) pairs; with `trace`
    (the last task item) each record also holds the program's execution trace."""
    global _WORKER_SANDBOX
    seed, level, chunk, count, config, trace = task
    if _WORKER_SANDBOX is None:
        _WORKER_SANDBOX = LuaSandbox()
    generator = ProgramGenerator(chunk_seed(seed, level, chunk), config)
    out = []
    for _ in range(count):
        source, result = generator.sample_verified(level, _WORKER_SANDBOX)
        digest, record = make_record(source, result.stdout, level, result.steps)
        if trace:  # the same program again, traced: the programs a seed yields do not depend on `trace`
            record.update(trace_fields(_WORKER_SANDBOX.run(source, max_steps=config.max_steps, trace=True)))
        out.append((digest, record_line(record)))
    return out


def level_quotas(num_programs: int, levels: tuple[int, ...]) -> dict[int, int]:
    """Programs per level: an even share, the first levels taking the remainder."""
    base, extra = divmod(num_programs, len(levels))
    return {level: base + (1 if i < extra else 0) for i, level in enumerate(levels)}


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def build_dataset(out_dir: str | pathlib.Path, num_programs: int, levels: tuple[int, ...] = (1, 2, 3),
                  seed: int = 0, config: GeneratorConfig | None = None, workers: int | None = None,
                  progress: bool = True, overwrite: bool = False, trace: bool = False) -> dict:
    """Generate `num_programs` unique verified programs into `out_dir`; returns the meta.json dict. With
    `trace`, every record also holds its execution trace (`jaxlua.data.traces`); the programs are the same.

    Raises FileExistsError when `out_dir` already holds a dataset, unless `overwrite`."""
    levels = tuple(int(level) for level in levels)
    if not isinstance(num_programs, int) or num_programs < 1:
        raise ValueError(f"num_programs must be a positive int, got {num_programs!r}")
    if not levels or any(level not in LEVELS for level in levels) or len(set(levels)) != len(levels):
        raise ValueError(f"levels must be distinct values from {LEVELS}, got {levels!r}")
    config = config or GeneratorConfig()
    workers = workers or default_workers()
    quotas = level_quotas(num_programs, levels)
    remaining = dict(quotas)
    next_chunk = {level: 0 for level in levels}
    writer = DatasetWriter(out_dir, overwrite=overwrite)
    started = time.perf_counter()
    pool = WorkerPool(workers, f"{__name__}:generate_chunk") if workers > 1 else None
    bar = tqdm(total=num_programs, desc="programs", unit="prog", disable=not progress, smoothing=0.05)
    try:
        for round_index in range(MAX_ROUNDS):
            tasks = []
            for level in levels:  # a little more than needed: duplicates are dropped
                chunks = math.ceil(remaining[level] * (1.02 if round_index == 0 else 1.2) / CHUNK_SIZE)
                for _ in range(chunks):
                    tasks.append((seed, level, next_chunk[level], CHUNK_SIZE, config, bool(trace)))
                    next_chunk[level] += 1
            tasks.sort(key=lambda task: (task[2], levels.index(task[1])))  # interleave levels
            results = pool.imap(tasks) if pool else map(generate_chunk, tasks)
            before = dict(remaining)
            for task, chunk in zip(tasks, results):
                level = task[1]
                for digest, line in chunk:
                    if remaining[level] and writer.add(digest, line, level):
                        remaining[level] -= 1
                        bar.update(1)
            if not any(remaining.values()):
                break
            stalled = [level for level in levels if remaining[level] and remaining[level] == before[level]]
            if stalled:
                raise RuntimeError(f"level(s) {stalled} produced no new unique programs; only "
                                   f"{ {lv: quotas[lv] - remaining[lv] for lv in stalled} } exist for this config")
        else:
            raise RuntimeError(f"dataset incomplete after {MAX_ROUNDS} rounds: missing {remaining}")
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
        if pool:
            pool.close()
    elapsed = time.perf_counter() - started
    meta = writer.finish({
        "generator_version": GENERATOR_VERSION, "seed": seed, "levels": list(levels),
        "num_programs": num_programs, "lua_version": lua_version(), "chunk_size": CHUNK_SIZE,
        "generator_config": dataclasses.asdict(config), "source": "generated", "complete": True,
        TRACE_META_KEY: bool(trace),
    })
    logging.info("built %d programs in %.1f s (%.0f programs/s, %d workers) into %s",
                 meta["total"], elapsed, meta["total"] / elapsed, workers, out_dir)
    return meta
