"""Benchmark the linear-recurrence scans; print JSON and write results/bench_scan_<backend>.json.

Two suites (`--suite`; `auto` runs the GPU suite on accelerators and the CPU suite on CPU):

- cpu (issue 4): forward and forward+backward wall time of every scan method and every cell at B x D over the
  lengths, the parallel MinGRU over the sequential GRU, and the error of each scan method against a float64
  sequential reference as T grows (the two-cumsum "heinsen" form loses accuracy with length).
- gpu (issue 6, `experiments/bench_scan_gpu.py`): every scan method and the fused MinGRU kernel at the
  issue's (B, T, D) shapes in fp32 and bf16 with achieved bandwidth and its fraction of the device's peak; a
  full training step of a MinGRU language model against a GRU (lax.scan) of the same width, against the
  minGRU paper's speed-ups; the issue's targets as booleans; and which method `method="auto"` should pick.

Times are medians over `--repeats` after a warmup (compile) call, with `block_until_ready`.

    python -m experiments.bench_scan                       # the suite for this backend
    python -m experiments.bench_scan --lengths=256 --repeats=2 --error_lengths=256,4096   # quick CPU run
    python -m experiments.bench_scan --suite=gpu --shapes=2x64x32 --train_lengths=16 --train_batch=2 \\
        --train_hidden=32 --error_lengths=64 --repeats=1     # the GPU suite's code path on CPU (Pallas interprets)

The results file is results/bench_scan_<backend>.json when the suite is the backend's own (cpu on CPU, gpu on a
GPU); any other pairing (e.g. the GPU suite interpreted on CPU) goes to runs/, never into results/.
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
from experiments.bench_scan_gpu import GpuSuiteConfig, parse_shape, run_gpu_suite
from jaxlua.models import CELLS

FLAGS = flags.FLAGS
flags.DEFINE_string("suite", "auto", "Which suite: auto (gpu on accelerators, cpu on CPU), cpu or gpu.")
flags.DEFINE_integer("batch", 32, "CPU suite: batch size B.")
flags.DEFINE_integer("dim", 256, "CPU suite: feature width D (scan width; cell input and hidden size).")
flags.DEFINE_list("lengths", ["256", "1024", "4096"], "CPU suite: sequence lengths T.")
flags.DEFINE_list("methods", None, "CPU suite: scan methods to time (default: sequential, associative, "
                  "heinsen, and pallas on a GPU; off a GPU Pallas only interprets its kernel: no speed figure).")
flags.DEFINE_list("cells", list(CELLS), "CPU suite: cells to time.")
flags.DEFINE_list("error_lengths", ["256", "512", "1024", "4096", "16384", "65536"],
                  "Lengths for the accuracy sweep (B=1, D=error_dim, fp32 vs float64).")
flags.DEFINE_integer("error_dim", 64, "Width of the accuracy sweep.")
flags.DEFINE_integer("repeats", 5, "Timed repeats per measurement (median reported).")
flags.DEFINE_string("out", None, "Output JSON path (default: see the module docstring).")
flags.DEFINE_integer("seed", 0, "Random seed for the inputs.")
_GPU = GpuSuiteConfig()
flags.DEFINE_list("shapes", ["x".join(map(str, s)) for s in _GPU.shapes], "GPU suite: scan shapes BxTxD.")
flags.DEFINE_list("dtypes", list(_GPU.dtypes), "GPU suite: input dtypes of the scans.")
flags.DEFINE_list("train_lengths", [str(t) for t in _GPU.train_lengths], "GPU suite: train-step lengths T.")
flags.DEFINE_integer("train_batch", _GPU.train_batch, "GPU suite: train-step batch size.")
flags.DEFINE_integer("train_embed", _GPU.train_embed, "GPU suite: embedding width of both language models.")
flags.DEFINE_integer("train_hidden", _GPU.train_hidden, "GPU suite: hidden width of both language models.")
flags.DEFINE_integer("train_layers", _GPU.train_layers, "GPU suite: recurrent layers of both language models.")
flags.DEFINE_integer("train_vocab", _GPU.train_vocab, "GPU suite: vocabulary size (the dissertation's ~1000).")
flags.DEFINE_string("train_dtype", _GPU.train_dtype, "GPU suite: model compute dtype (float32 or bfloat16).")


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


def environment() -> dict:
    """Device, versions and date: every result file starts with these."""
    return {"device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
            "num_devices": jax.device_count(), "cpu": platform.processor() or platform.machine(),
            "jax_version": jax.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "auto_method": kernels.resolve_method("auto")}


def run_cpu_suite(key) -> dict:
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
    result = {"suite": "cpu", **environment(), "batch": FLAGS.batch, "dim": FLAGS.dim, "lengths": lengths,
              "repeats": FLAGS.repeats}
    logging.info("timing scans")
    result["scans"] = bench_scans(methods, lengths, FLAGS.batch, FLAGS.dim, FLAGS.repeats, key)
    logging.info("timing cells")
    result["cells"] = bench_cells(FLAGS.cells, lengths, FLAGS.batch, FLAGS.dim, FLAGS.repeats, key)
    result["mingru_parallel_over_gru"] = mingru_over_gru(result["cells"])
    logging.info("accuracy sweep")
    error_methods = [m for m in methods if m != "sequential"] + ["sequential"]
    result["scan_error_vs_float64"] = scan_errors(error_methods, error_lengths, FLAGS.error_dim, key)
    return result


def gpu_suite_config() -> GpuSuiteConfig:
    """The GPU suite's flags as one validated value (exit 2 with one line on a bad flag)."""
    try:
        config = GpuSuiteConfig(
            shapes=tuple(parse_shape(s) for s in FLAGS.shapes), dtypes=tuple(FLAGS.dtypes),
            train_lengths=tuple(int(t) for t in FLAGS.train_lengths), train_batch=FLAGS.train_batch,
            train_embed=FLAGS.train_embed, train_hidden=FLAGS.train_hidden, train_layers=FLAGS.train_layers,
            train_vocab=FLAGS.train_vocab, train_dtype=FLAGS.train_dtype,
            error_lengths=tuple(int(t) for t in FLAGS.error_lengths), error_dim=FLAGS.error_dim,
            repeats=FLAGS.repeats)
    except ValueError as err:
        print(f"bad flags: {err}", file=sys.stderr)
        sys.exit(2)
    bad_dtypes = [d for d in config.dtypes + (config.train_dtype,) if d not in ("float32", "bfloat16")]
    sizes = list(config.train_lengths + config.error_lengths) + [
        config.train_batch, config.train_embed, config.train_hidden, config.train_layers, config.error_dim,
        config.repeats]
    if bad_dtypes or min(sizes) < 1 or config.train_vocab < 6:
        print(f"bad flags: unknown dtypes {bad_dtypes}, a size < 1 or train_vocab < 6", file=sys.stderr)
        sys.exit(2)
    return config


def default_out(suite: str, backend: str) -> pathlib.Path:
    """results/ holds only a backend's own suite; other pairings (e.g. the GPU suite on CPU) go to runs/."""
    own = "cpu" if backend == "cpu" else "gpu"
    if suite == own:
        return pathlib.Path(f"results/bench_scan_{backend}.json")
    return pathlib.Path(f"runs/bench_scan_{suite}_suite_on_{backend}.json")


def main(argv: list[str]) -> None:
    del argv
    key = jax.random.PRNGKey(FLAGS.seed)
    backend = jax.default_backend()
    if FLAGS.suite not in ("auto", "cpu", "gpu"):
        print(f"bad flags: --suite must be auto, cpu or gpu; got {FLAGS.suite!r}", file=sys.stderr)
        sys.exit(2)
    suite = FLAGS.suite if FLAGS.suite != "auto" else ("cpu" if backend == "cpu" else "gpu")
    if suite == "cpu":
        result = run_cpu_suite(key)
    else:
        result = run_gpu_suite(gpu_suite_config(), key, environment(), time_ms, scan_errors, FLAGS.seed)
    out = pathlib.Path(FLAGS.out) if FLAGS.out else default_out(suite, backend)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    logging.info("wrote %s", out)


if __name__ == "__main__":
    app.run(main)
