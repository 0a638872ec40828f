"""The CPU suite of experiments/bench_scan.py, and what both scan suites share.

- Scans: forward and forward+backward wall time of every `kernels.linear_scan` method on MinGRU-like
  `(log a, log b)` at B x D over the lengths.
- Cells: the same for every registered cell (`jaxlua.config.CELLS`); the gated cells (those with gate math in
  `kernels.gates`) under "auto" and "associative", the others under their `lax.scan`. The parallel MinGRU over
  the sequential GRU per length.
- Accuracy: the error of each method against a float64 sequential reference as T grows (the two-cumsum
  "heinsen" form loses accuracy with length), fp32 and bf16 inputs.
- `recommended_auto_method`: the method `kernels.AUTO_METHOD` should name on this backend, from these times.

Times are medians of `bench_common.time_call` over `repeats` calls after one warmup (compile) call.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax import nnx
from tqdm import tqdm

import kernels
from experiments import bench_common
from jaxlua.config import CELLS

# The scan methods a gated cell can run fast; `recommended_auto_method` picks among those measured.
# ("heinsen" is a reference whose error grows with length, never a candidate.)
AUTO_CANDIDATES = ("sequential", "associative", "pallas")


def time_ms(fn: Callable, *args: Any, repeats: int) -> float:
    """Median ms of `fn(*args)` over `repeats` calls after one warmup (compile) call."""
    return bench_common.median_ms(bench_common.time_call(lambda: fn(*args), repeats, warmup=1))


def mingru_like_gates(key: jax.Array, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """`log a`, `log b` as a MinGRU produces them from standard-normal pre-activations (fp32)."""
    k, cand = jax.random.normal(key, (2, *shape), jnp.float32)
    return kernels.gates.get_gate("mingru").log(k, cand)


def reference_f64(log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """Sequential recurrence in float64 (NumPy), the ground truth for the accuracy sweep."""
    a, b = np.exp(log_a.astype(np.float64)), np.exp(log_b.astype(np.float64))
    h, out = np.zeros(a.shape[::2]), np.empty(a.shape)
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


def scan_errors(methods: tuple[str, ...], lengths: tuple[int, ...], dim: int, key) -> list[dict]:
    """Max and mean relative error of each method against `reference_f64`, per length and input dtype."""
    rows = []
    for t in tqdm(lengths, desc="accuracy", file=sys.stderr):
        log_a, log_b = mingru_like_gates(key, (1, t, dim))
        ref = reference_f64(np.asarray(log_a), np.asarray(log_b))
        for method in methods:
            for dtype in ("float32", "bfloat16"):
                try:
                    h = kernels.linear_scan(log_a.astype(dtype), log_b.astype(dtype), method=method)
                except Exception as err:  # pylint: disable=broad-except  # e.g. no Pallas lowering here
                    logging.warning("scan method %s unavailable: %s", method, err)
                    continue
                # bf16 inputs are rounded before the scan: compare with the exact result for those inputs.
                exact = ref if dtype == "float32" else reference_f64(
                    np.asarray(log_a.astype(dtype), np.float64), np.asarray(log_b.astype(dtype), np.float64))
                rel = np.abs(np.asarray(h, np.float64) - exact) / np.abs(exact)
                rows.append({"method": method, "input_dtype": dtype, "T": t,
                             "max_rel_err": float(np.max(rel)), "mean_rel_err": float(np.mean(rel))})
    return rows


def recommended_auto_method(fwd_bwd_ms: dict[str, list[float]]) -> str | None:
    """The candidate with the lowest geometric-mean forward+backward time (None when none was measured).

    `fwd_bwd_ms` maps a method to its times over the suite's shapes; a method missing a shape is not compared.
    """
    lengths = {len(times) for times in fwd_bwd_ms.values()}
    complete = {m: t for m, t in fwd_bwd_ms.items() if m in AUTO_CANDIDATES and t and len(t) == max(lengths)}
    if not complete:
        return None
    return min(complete, key=lambda m: float(np.mean(np.log(complete[m]))))


def scan_rows_fwd_bwd(rows: list[dict]) -> dict[str, list[float]]:
    """method -> forward+backward ms over the shapes, from the suite's "scans" rows (rows with an error skipped)."""
    out: dict[str, list[float]] = {}
    for row in rows:
        if "fwd_bwd_ms" in row:
            out.setdefault(row["method"], []).append(row["fwd_bwd_ms"])
    return out


@dataclasses.dataclass(frozen=True)
class CpuSuiteConfig:
    """The CPU suite's sizes (None methods: every method but "pallas", which only interprets off a GPU)."""

    batch: int = 32
    dim: int = 256
    lengths: tuple[int, ...] = (256, 1024, 4096)
    methods: tuple[str, ...] | None = None
    cells: tuple[str, ...] = CELLS.names()
    error_lengths: tuple[int, ...] = (256, 512, 1024, 4096, 16384, 65536)
    error_dim: int = 64
    repeats: int = 5
    seed: int = 0

    def scan_methods(self) -> tuple[str, ...]:
        """The methods timed: `methods`, or every concrete one ("pallas" only on a GPU)."""
        if self.methods is not None:
            return self.methods
        return tuple(m for m in kernels.BACKENDS if m != "pallas" or jax.default_backend() == "gpu")

    def validate(self) -> "CpuSuiteConfig":
        """Raises ValueError naming the first bad option."""
        if self.methods is not None:
            bench_common.check_names("methods", self.methods, tuple(kernels.BACKENDS))
        bench_common.check_names("cells", self.cells, CELLS.names())
        bench_common.check_positive(self, "batch", "dim", "error_dim", "repeats")
        for name in ("lengths", "error_lengths"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise ValueError(f"--{name} must be a non-empty list of integers >= 1; got {getattr(self, name)}")
        return self


def bench_scans(config: CpuSuiteConfig, key) -> list[dict]:
    """fwd and fwd+bwd ms of every scan method at each length."""
    rows = []
    for t in config.lengths:
        log_a, log_b = mingru_like_gates(key, (config.batch, t, config.dim))
        for method in tqdm(config.scan_methods(), desc=f"scans T={t}", file=sys.stderr):
            fwd = jax.jit(lambda a, b, m=method: kernels.linear_scan(a, b, method=m))
            loss = lambda a, b, m=method: jnp.sum(kernels.linear_scan(a, b, method=m) ** 2)  # noqa: E731
            fwd_bwd = jax.jit(jax.grad(loss, argnums=(0, 1)))
            row: dict[str, Any] = {"method": method, "T": t}
            try:
                row["fwd_ms"] = time_ms(fwd, log_a, log_b, repeats=config.repeats)
                row["fwd_bwd_ms"] = time_ms(fwd_bwd, log_a, log_b, repeats=config.repeats)
            except Exception as err:  # pylint: disable=broad-except  # e.g. "pallas" without a GPU lowering
                logging.warning("scan method %s unavailable: %s", method, err)
                row["error"] = f"{type(err).__name__}: {err}"[:300]
            rows.append(row)
    return rows


def cell_variants(cells: tuple[str, ...]) -> list[tuple[str, str]]:
    """(cell, method): gated cells under "auto" and "associative", the others under their own lax.scan."""
    variants = []
    for name in cells:
        if name in kernels.gates.GATES:
            variants += [(name, "auto"), (name, "associative")]
        else:
            variants.append((name, "lax.scan"))
    return variants


def bench_cells(config: CpuSuiteConfig, key) -> list[dict]:
    """fwd and fwd+bwd ms of every cell variant at each length (input and hidden width `dim`)."""
    rows = []
    dim = config.dim
    for t in config.lengths:
        x = jax.random.normal(key, (config.batch, t, dim), jnp.float32)
        for name, method in tqdm(cell_variants(config.cells), desc=f"cells T={t}", file=sys.stderr):
            kwargs = {} if method == "lax.scan" else {"scan_method": method}
            graphdef, params = nnx.split(CELLS.get(name)(dim, dim, rngs=nnx.Rngs(0), **kwargs))

            def forward(params, x, graphdef=graphdef):
                return nnx.merge(graphdef, params)(x)[0]

            fwd = jax.jit(forward)
            fwd_bwd = jax.jit(jax.grad(lambda p, x, f=forward: jnp.sum(f(p, x) ** 2), argnums=(0, 1)))
            resolved = method if method == "lax.scan" else kernels.resolve_method(method)
            rows.append({"cell": name, "method": method, "resolved": resolved, "T": t,
                         "fwd_ms": time_ms(fwd, params, x, repeats=config.repeats),
                         "fwd_bwd_ms": time_ms(fwd_bwd, params, x, repeats=config.repeats)})
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


def run_cpu_suite(config: CpuSuiteConfig) -> dict[str, Any]:
    """Everything above, as one JSON-ready dict."""
    config.validate()
    key = jax.random.PRNGKey(config.seed)
    result: dict[str, Any] = {"suite": "cpu", "environment": bench_common.environment(),
                              "auto_method": kernels.resolve_method("auto"), "config": dataclasses.asdict(config)}
    logging.info("timing scans")
    result["scans"] = bench_scans(config, key)
    result["recommended_auto_method"] = recommended_auto_method(scan_rows_fwd_bwd(result["scans"]))
    logging.info("timing cells")
    result["cells"] = bench_cells(config, key)
    result["mingru_parallel_over_gru"] = mingru_over_gru(result["cells"])
    logging.info("accuracy sweep")
    methods = config.scan_methods()
    error_methods = tuple(m for m in methods if m != "sequential") + ("sequential",)
    result["scan_error_vs_float64"] = scan_errors(error_methods, config.error_lengths, config.error_dim, key)
    return bench_common.finish_environment(result)
