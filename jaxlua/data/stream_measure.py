"""Measurements of the program stream: producer throughput, raw duplicate rates, `<UNK>` rates.

Each function opens a stream, drains it as fast as it can and returns a JSON-ready dict; benchmarks and README
figures come from these (`python -m jaxlua.data.stream_measure` prints all of them; the duplicate rates over
100,000 programs per level take many CPU minutes).
"""
from __future__ import annotations

import dataclasses
import json
import time

from jaxlua.config import IDENTIFIER_STYLES
from jaxlua.data.stream import StreamConfig, open_stream
from jaxlua.tokenize import Tokenizer


def producer_throughput(config: StreamConfig, batches: int = 200, warmup: int = 16) -> dict:
    """Batches/s and programs/s the workers sustain for a trainer that never makes them wait, and start-up time."""
    started = time.perf_counter()
    with open_stream(config, progress=False) as stream:
        opened = time.perf_counter() - started
        it = stream.batches(0)
        for _ in range(warmup):
            next(it)
        begin = time.perf_counter()
        for _ in range(batches):
            next(it)
        seconds = time.perf_counter() - begin
        stats = stream.stats()
    return {"levels": list(config.levels), "workers": config.workers, "batch_size": config.batch_size,
            "batches": batches, "batches_per_s": batches / seconds,
            "programs_per_s": batches * config.batch_size / seconds, "open_s": opened,
            "feeder_cpu_ms_per_batch": 1e3 * stats["feeder_cpu_s"] / (batches + warmup)}


def duplicate_rates(config: StreamConfig, programs: int = 100_000, tail: int = 10_000) -> dict:
    """Per level of `config.levels`, alone: the share of verified candidates among the first `programs` accepted
    whose record key an earlier one had (overall, and over the last `tail`) and the share rejected per reason."""
    out = {}
    for level in config.levels:
        single = dataclasses.replace(config, levels=(level,))
        batches = -(-programs // single.batch_size)
        with open_stream(single, progress=False) as stream:
            it = stream.batches(0)
            marks = []
            for k in range(1, batches + 1):
                next(it)
                if k in ((programs - tail) // single.batch_size, batches):
                    stats = stream.stats()  # the producer may have run ahead of batch k: counts are what it did
                    marks.append((stats["accepted"][str(level)], stats["duplicates"][str(level)]))
            rejected = stream.stats()["rejected"][str(level)]
        (a0, d0), (a1, d1) = marks
        out[str(level)] = {"programs": a1, "duplicate_rate": d1 / (a1 + d1),
                           f"duplicate_rate_last_{tail}": (d1 - d0) / max(a1 - a0 + d1 - d0, 1),
                           "rejected_per_program": {r: n / a1 for r, n in rejected.items()}}
    return out


def unknown_rate(config: StreamConfig, tokenizer: Tokenizer | dict | None = None, batches: int = 100) -> dict:
    """Share of `<UNK>` ids among the tokens of fresh stream programs, with the stream's own vocabulary."""
    with open_stream(config, tokenizer, progress=False) as stream:
        it = stream.batches(0)
        for _ in range(batches):
            next(it)
        stats = stream.stats()
        return {"levels": list(config.levels), "tokenizer": repr(stream.tokenizer), "vocab_size": len(stream.vocab),
                "programs": sum(stats["accepted"].values()), "unk_rate": stats["unk_rate"]}


def main() -> None:
    results = {"throughput": [], "unk": [], "duplicates": {}}
    for levels in ((4, 5, 6, 7), (1, 2, 3)):
        for workers in (1, 2):
            results["throughput"].append(producer_throughput(StreamConfig(levels=levels, workers=workers)))
            print(json.dumps(results["throughput"][-1]), flush=True)
        for identifiers in IDENTIFIER_STYLES.names():
            results["unk"].append(unknown_rate(StreamConfig(levels=levels, workers=2), {"identifiers": identifiers}))
            print(json.dumps(results["unk"][-1]), flush=True)
    results["duplicates"] = duplicate_rates(StreamConfig(levels=(1, 2, 3, 4, 5, 6, 7), workers=2,
                                                         heldout_per_level=100, vocab_per_level=0))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
