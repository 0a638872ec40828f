"""Benchmark the linear-recurrence scans and the five cells; print JSON and write results/bench_scan_<backend>.json.

Measures forward and forward+backward wall time (jit, warmup, block_until_ready, median of repeats) of every
scan method and every cell at B x D over the lengths, the ratio of the parallel MinGRU (associative scan) to
the sequential GRU, and the error of each scan method against a float64 sequential reference as T grows
(the two-cumsum "heinsen" form loses accuracy with length).

    python -m experiments.bench_scan                       # the issue's grid: B=32, D=256, T=256,1024,4096
    python -m experiments.bench_scan --lengths=256 --repeats=2 --error_lengths=256,4096   # quick run
"""
from __future__ import annotations

import datetime
import json
import pathlib
import platform
import statistics
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging
from flax import nnx
from tqdm import tqdm

import kernels
from jaxlua.models import CELLS

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch", 32, "Batch size B.")
flags.DEFINE_integer("dim", 256, "Feature width D (scan width; cell input and hidden size).")
flags.DEFINE_list("lengths", ["256", "1024", "4096"], "Sequence lengths T.")
flags.DEFINE_list("methods", None, "Scan methods to time (default: sequential, associative, heinsen, and "
                  "pallas on a GPU; off a GPU Pallas only interprets its kernel, which says nothing about speed).")
flags.DEFINE_list("cells", list(CELLS), "Cells to time.")
flags.DEFINE_list("error_lengths", ["256", "512", "1024", "4096", "16384", "65536"],
                  "Lengths for the accuracy sweep (B=1, D=error_dim, fp32 vs float64).")
flags.DEFINE_integer("error_dim", 64, "Width of the accuracy sweep.")
flags.DEFINE_integer("repeats", 5, "Timed repeats per measurement (median reported).")
flags.DEFINE_string("out", None, "Output JSON path (default results/bench_scan_<backend>.json).")
flags.DEFINE_integer("seed", 0, "Random seed for the inputs.")


def time_ms(fn: Callable, *args, repeats: int) -> float:
    """Median wall time in ms of `fn(*args)` after one warmup (compile) call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append((time.perf_counter() - start) * 1e3)
    return round(statistics.median(times), 3)


def mingru_like_gates(key: jax.Array, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """`log a`, `log b` as a MinGRU produces them from standard-normal pre-activations."""
    k, cand = jax.random.normal(key, (2, *shape), jnp.float32)
    log_g = jnp.where(cand >= 0, jnp.log(jax.nn.relu(cand) + 0.5), -jax.nn.softplus(-cand))
    return -jax.nn.softplus(k), -jax.nn.softplus(-k) + log_g


def bench_scans(methods: list[str], lengths: list[int], batch: int, dim: int, repeats: int, key) -> list[dict]:
    rows = []
    for t in lengths:
        log_a, log_b = mingru_like_gates(key, (batch, t, dim))
        for method in tqdm(methods, desc=f"scans T={t}", file=sys.stderr):
            fwd = jax.jit(lambda a, b, m=method: kernels.linear_scan(a, b, method=m))
            loss = lambda a, b, m=method: jnp.sum(kernels.linear_scan(a, b, method=m) ** 2)
            fwd_bwd = jax.jit(jax.grad(loss, argnums=(0, 1)))
            try:
                row = {"method": method, "T": t, "fwd_ms": time_ms(fwd, log_a, log_b, repeats=repeats),
                       "fwd_bwd_ms": time_ms(fwd_bwd, log_a, log_b, repeats=repeats)}
            except Exception as err:  # e.g. "pallas" where no fused kernel exists for this backend
                logging.warning("scan method %s unavailable: %s", method, err)
                row = {"method": method, "T": t, "error": f"{type(err).__name__}: {err}"[:300]}
            rows.append(row)
    return rows


def bench_cells(cells: list[str], lengths: list[int], batch: int, dim: int, repeats: int, key) -> list[dict]:
    variants = []
    for name in cells:
        if name in ("mingru", "minlstm"):
            variants += [(name, "auto"), (name, "associative")]
        else:
            variants.append((name, "lax.scan"))
    rows = []
    for t in lengths:
        x = jax.random.normal(key, (batch, t, dim), jnp.float32)
        for name, method in tqdm(variants, desc=f"cells T={t}", file=sys.stderr):
            kwargs = {} if method == "lax.scan" else {"scan_method": method}
            graphdef, params = nnx.split(CELLS[name](dim, dim, rngs=nnx.Rngs(0), **kwargs))

            def forward(params, x, graphdef=graphdef):
                return nnx.merge(graphdef, params)(x)[0]

            fwd = jax.jit(forward)
            fwd_bwd = jax.jit(jax.grad(lambda p, x, f=forward: jnp.sum(f(p, x) ** 2), argnums=(0, 1)))
            resolved = method if method == "lax.scan" else kernels.resolve_method(method)
            rows.append({"cell": name, "method": method, "resolved": resolved, "T": t,
                         "fwd_ms": time_ms(fwd, params, x, repeats=repeats),
                         "fwd_bwd_ms": time_ms(fwd_bwd, params, x, repeats=repeats)})
    return rows


def mingru_over_gru(cell_rows: list[dict]) -> list[dict]:
    """Time of the parallel MinGRU (associative scan) divided by the sequential GRU, per T."""
    out = []
    by_key = {(r["cell"], r["method"], r["T"]): r for r in cell_rows}
    for (cell, method, t), row in by_key.items():
        gru = by_key.get(("gru", "lax.scan", t))
        if cell == "mingru" and method == "associative" and gru:
            out.append({"T": t, "fwd": round(row["fwd_ms"] / gru["fwd_ms"], 3),
                        "fwd_bwd": round(row["fwd_bwd_ms"] / gru["fwd_bwd_ms"], 3)})
    return out


def reference_f64(log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """Sequential recurrence in float64 (NumPy), the ground truth for the accuracy sweep."""
    a, b = np.exp(log_a.astype(np.float64)), np.exp(log_b.astype(np.float64))
    h, out = np.zeros(a.shape[::2]), np.empty(a.shape)
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def scan_errors(methods: list[str], lengths: list[int], dim: int, key) -> list[dict]:
    rows = []
    for t in tqdm(lengths, desc="accuracy", file=sys.stderr):
        log_a, log_b = mingru_like_gates(key, (1, t, dim))
        ref = reference_f64(np.asarray(log_a), np.asarray(log_b))
        for method in methods:
            for dtype in ("float32", "bfloat16"):
                try:
                    h = kernels.linear_scan(log_a.astype(dtype), log_b.astype(dtype), method=method)
                except Exception as err:
                    logging.warning("scan method %s unavailable: %s", method, err)
                    continue
                # bf16 inputs are rounded before the scan: compare with the exact result for those inputs.
                exact = ref if dtype == "float32" else reference_f64(
                    np.asarray(log_a.astype(dtype), np.float64), np.asarray(log_b.astype(dtype), np.float64))
                rel = np.abs(np.asarray(h, np.float64) - exact) / np.abs(exact)
                rows.append({"method": method, "input_dtype": dtype, "T": t,
                             "max_rel_err": float(np.max(rel)), "mean_rel_err": float(np.mean(rel))})
    return rows


def main(argv: list[str]) -> None:
    del argv
    methods = FLAGS.methods or ["sequential", "associative", "heinsen"] + (
        ["pallas"] if jax.default_backend() == "gpu" else [])
    lengths = [int(t) for t in FLAGS.lengths]
    error_lengths = [int(t) for t in FLAGS.error_lengths]
    for name in methods:
        kernels.resolve_method(name)
    unknown = [c for c in FLAGS.cells if c not in CELLS]
    if unknown or min(lengths + error_lengths + [FLAGS.batch, FLAGS.dim, FLAGS.repeats]) < 1:
        print(f"bad flags: unknown cells {unknown} or a size < 1", file=sys.stderr)
        sys.exit(2)
    key = jax.random.PRNGKey(FLAGS.seed)
    backend = jax.default_backend()
    result = {
        "device": str(jax.devices()[0].device_kind), "backend": backend, "num_devices": jax.device_count(),
        "cpu": platform.processor() or platform.machine(), "jax_version": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "batch": FLAGS.batch, "dim": FLAGS.dim, "lengths": lengths, "repeats": FLAGS.repeats,
        "auto_method": kernels.resolve_method("auto"),
    }
    logging.info("timing scans")
    result["scans"] = bench_scans(methods, lengths, FLAGS.batch, FLAGS.dim, FLAGS.repeats, key)
    logging.info("timing cells")
    result["cells"] = bench_cells(FLAGS.cells, lengths, FLAGS.batch, FLAGS.dim, FLAGS.repeats, key)
    result["mingru_parallel_over_gru"] = mingru_over_gru(result["cells"])
    logging.info("accuracy sweep")
    error_methods = [m for m in methods if m != "sequential"] + ["sequential"]
    result["scan_error_vs_float64"] = scan_errors(error_methods, error_lengths, FLAGS.error_dim, key)
    out = pathlib.Path(FLAGS.out or f"results/bench_scan_{backend}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    logging.info("wrote %s", out)


if __name__ == "__main__":
    app.run(main)
