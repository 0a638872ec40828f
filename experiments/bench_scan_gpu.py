"""The GPU suite of experiments/bench_scan.py: scan speed and bandwidth, and MinGRU vs GRU training.

- Scans at each (B, T, D) and dtype, forward and forward+backward (`jax.vjp` with a fixed cotangent, returning
  h and the input gradients). Rows: every `kernels.linear_scan` method on MinGRU-like `(log a, log b)`
  ("sequential", "associative", "heinsen", "pallas"), and MinGRU from its raw pre-activations `(k, h~)` the
  way the cell runs each method: "mingru_sequential" (linear-space gates, lax.scan), "mingru_associative" (log
  gates, associative scan) and "mingru_fused" (`kernels.pallas_scan.mingru_scan`, gates inside the kernel).
- Bandwidth: `min_bytes` is the least traffic the problem needs (read the inputs, write h; backward: read the
  inputs, h and dh, write the input gradients); it depends only on the input and output dtypes (h is fp32 out
  of `linear_scan`, in the input dtype out of the fused kernel), so `*_GBps = min_bytes / time` ranks methods
  by time. The Pallas rows also give `kernel_bytes`, what their kernels move for the launch plan they pick
  (`kernels.pallas_cost.bytes_moved`; the chunked plan re-reads its inputs), and the achieved bandwidth on it.
  Fractions are of the device's peak HBM bandwidth (`PEAK_HBM`; "unknown" for devices not in it).
- Training: one full jit train step (jaxlua.train: forward, loss, backward, AdamW) of a MinGRU language model
  ("auto" and "pallas" scans) against the same model with a GRU (lax.scan), same widths, per length.
- The targets of the fused kernel as booleans, the accuracy sweep of the CPU suite, and which method
  `method="auto"` should pick (`recommended_auto_method`).

Off a GPU the Pallas rows interpret their kernels: the suite runs (the tests run it at a tiny size), but its
times say nothing about a GPU.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from tqdm import tqdm

import kernels
from experiments import bench_common
from experiments.bench_scan_cpu import mingru_like_gates, recommended_auto_method, scan_errors, time_ms
from experiments.bench_common import jaxlua_step
from jaxlua.config import DTYPES, TrainConfig
from kernels.pallas_scan import bytes_moved, mingru_scan

# Peak HBM bandwidth (bytes/s) by device_kind substrings, first match wins (vendor data sheets).
PEAK_HBM = (
    (("H200",), 4.8e12),
    (("H100", "NVL"), 3.9e12),
    (("H100", "PCIe"), 2.0e12),
    (("H100",), 3.35e12),  # SXM5, HBM3 ("NVIDIA H100 80GB HBM3")
    (("A100", "80GB", "PCIe"), 1.935e12),
    (("A100", "80GB"), 2.039e12),  # SXM4
    (("A100",), 1.555e12),  # 40GB
)
PAPER_SPEEDUP = {512: 175.0, 4096: 1324.0}  # minGRU paper: parallel minGRU training vs sequential GRU
# The scan method a MinGRU cell runs, and the scan row that times it that way (see scan_variants).
MINGRU_VARIANTS = {"sequential": "mingru_sequential", "associative": "mingru_associative", "pallas": "mingru_fused"}


@dataclasses.dataclass(frozen=True)
class GpuSuiteConfig:
    """The GPU suite's sizes: scan shapes (B, T, D) and dtypes, the train-step models, the accuracy sweep."""

    shapes: tuple[tuple[int, int, int], ...] = ((8, 4096, 1536), (32, 512, 1024), (64, 2048, 256))
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    train_lengths: tuple[int, ...] = (512, 4096)
    train_batch: int = 32
    train_embed: int = 256
    train_hidden: int = 256
    train_layers: int = 1
    train_vocab: int = 1000
    train_dtype: str = "float32"
    error_lengths: tuple[int, ...] = (4096, 65536)
    error_dim: int = 64
    repeats: int = 5
    seed: int = 0

    def validate(self) -> "GpuSuiteConfig":
        """Raises ValueError naming the first bad option."""
        for dtype in self.dtypes + (self.train_dtype,):
            DTYPES.check(dtype)
        if not self.shapes or not self.dtypes:
            raise ValueError("--shapes and --dtypes must be non-empty lists")
        for name in ("train_lengths", "error_lengths"):
            if not getattr(self, name) or min(getattr(self, name)) < 1:
                raise ValueError(f"--{name} must be a non-empty list of integers >= 1; got {getattr(self, name)}")
        bench_common.check_positive(self, "train_batch", "train_embed", "train_hidden", "train_layers",
                                    "error_dim", "repeats")
        if self.train_vocab < 8:
            raise ValueError(f"--train_vocab must be >= 8 (5 special ids + tokens); got {self.train_vocab}")
        return self


def parse_shape(text: str) -> tuple[int, int, int]:
    """"8x4096x1536" -> (8, 4096, 1536); a clear error otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"a shape is BxTxD with positive integers, e.g. 8x4096x1536; got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def peak_bandwidth(device_kind: str) -> float | None:
    """Peak HBM bytes/s of `device_kind`, or None when it is not in PEAK_HBM."""
    for needles, peak in PEAK_HBM:
        if all(n.lower() in device_kind.lower() for n in needles):
            return peak
    return None


# ----------------------------------------------------------------------------- scans


def _mingru_sequential(k, cand):
    return kernels.gated_scan("mingru", (k, cand), method="sequential")


def _mingru_associative(k, cand):
    return kernels.gated_scan("mingru", (k, cand), method="associative")


def scan_variants() -> dict[str, tuple[str, Callable]]:
    """name -> (input kind, fn(*inputs) -> h): "log" inputs are (log a, log b), "raw" are (k, h~)."""
    variants: dict[str, tuple[str, Callable]] = {
        m: ("log", lambda a, b, m=m: kernels.linear_scan(a, b, method=m)) for m in kernels.BACKENDS}
    variants["mingru_sequential"] = ("raw", _mingru_sequential)
    variants["mingru_associative"] = ("raw", _mingru_associative)
    variants["mingru_fused"] = ("raw", lambda k, cand: mingru_scan(k, cand))
    return variants


def min_bytes(elems: int, n_inputs: int, in_size: int, out_size: int, backward: bool) -> int:
    """Least HBM traffic: inputs in, h out; backward also reads inputs, h, dh and writes the input grads."""
    forward = elems * (n_inputs * in_size + out_size)
    return forward + (elems * (2 * n_inputs * in_size + 2 * out_size) if backward else 0)


def _kernel_bytes(name: str, shape, dtype, backward: bool) -> int | None:
    """Bytes the Pallas kernels of a row move (the dispatcher's "pallas" casts its inputs to fp32 first)."""
    if name == "pallas":
        return bytes_moved(*shape, jnp.float32, backward, cell="linear")
    if name == "mingru_fused":
        return bytes_moved(*shape, dtype, backward, cell="mingru")
    return None


def _bandwidth(row: dict, prefix: str, nbytes: dict[str, int], peak: float | None) -> None:
    """Adds `<prefix><phase>_GBps` and its fraction of `peak` ("unknown" without one) for fwd and fwd_bwd."""
    for phase in ("fwd", "fwd_bwd"):
        bytes_per_s = nbytes[phase] / (row[f"{phase}_ms"] * 1e-3)
        row[f"{prefix}{phase}_GBps"] = round(bytes_per_s / 1e9, 1)
        row[f"{prefix}{phase}_frac_peak"] = "unknown" if peak is None else round(bytes_per_s / peak, 3)


def bench_scan_rows(config: GpuSuiteConfig, key, peak: float | None) -> list[dict]:
    """One row per (shape, dtype, variant): times, min/kernel bytes, bandwidth and its fraction of peak."""
    rows = []
    for shape in config.shapes:
        elems = math.prod(shape)
        for dtype_name in config.dtypes:
            dtype = jnp.dtype(dtype_name)
            log_inputs = tuple(x.astype(dtype) for x in mingru_like_gates(key, shape))
            raw_inputs = tuple(jax.random.normal(jax.random.fold_in(key, 1), (2, *shape), dtype))
            for name, (kind, fn) in tqdm(scan_variants().items(), desc=f"scans {shape} {dtype_name}",
                                         file=sys.stderr):
                xs = log_inputs if kind == "log" else raw_inputs
                row: dict[str, Any] = {"method": name, "B": shape[0], "T": shape[1], "D": shape[2],
                                       "dtype": dtype_name}
                try:
                    out = jax.eval_shape(fn, *xs)
                    cotangent = jax.random.normal(jax.random.fold_in(key, 2), shape, out.dtype)
                    row["fwd_ms"] = time_ms(jax.jit(fn), *xs, repeats=config.repeats)
                    row["fwd_bwd_ms"] = time_ms(_forward_backward(fn), xs, cotangent, repeats=config.repeats)
                except Exception as err:  # pylint: disable=broad-except  # e.g. Pallas on an unsupported GPU
                    logging.warning("%s %s %s failed: %s", name, shape, dtype_name, err)
                    row["error"] = f"{type(err).__name__}: {err}"[:300]
                    rows.append(row)
                    continue
                out_size = jnp.dtype(out.dtype).itemsize
                least = {p: min_bytes(elems, 2, dtype.itemsize, out_size, p == "fwd_bwd")
                         for p in ("fwd", "fwd_bwd")}
                row.update({"min_bytes_fwd": least["fwd"], "min_bytes_fwd_bwd": least["fwd_bwd"]})
                _bandwidth(row, "", least, peak)
                kernel = {p: _kernel_bytes(name, shape, dtype, p == "fwd_bwd") for p in ("fwd", "fwd_bwd")}
                if kernel["fwd"] is not None:
                    row.update({"kernel_bytes_fwd": kernel["fwd"], "kernel_bytes_fwd_bwd": kernel["fwd_bwd"]})
                    _bandwidth(row, "kernel_", kernel, peak)
                rows.append(row)
    return rows


def _forward_backward(fn: Callable) -> Callable:
    """jit((inputs, dh) -> (h, input gradients)): one forward and one backward, no loss reduction."""

    def run(xs, cotangent):
        h, pullback = jax.vjp(fn, *xs)
        return h, pullback(cotangent)

    return jax.jit(run)


# ----------------------------------------------------------------------------- training step


def _synthetic_batch(batch: int, length: int, vocab: int, seed: int) -> dict[str, np.ndarray]:
    """Full-length rows of random tokens (ids >= 5 skip the special tokens), outputs in the second half."""
    rng = np.random.default_rng(seed)
    return {"tokens": rng.integers(5, vocab, (batch, length + 1)).astype(np.int32),
            "lengths": np.full((batch,), length + 1, np.int32),
            "output_start": np.full((batch,), length // 2, np.int32)}


TRAIN_VARIANTS = (("gru", "lax.scan"), ("mingru", "auto"), ("mingru", "pallas"))


def bench_train_steps(config: GpuSuiteConfig) -> list[dict]:
    """ms per train step of the GRU LM and the MinGRU LM ("auto" and "pallas" scans) at each length."""
    rows = []
    for length in config.train_lengths:
        batch = _synthetic_batch(config.train_batch, length, config.train_vocab, config.seed)
        for cell, method in tqdm(TRAIN_VARIANTS, desc=f"train step T={length}", file=sys.stderr):
            row: dict[str, Any] = {"cell": cell, "method": method, "T": length, "B": config.train_batch,
                                   "hidden": config.train_hidden, "layers": config.train_layers}
            try:
                train_config = TrainConfig(
                    cell=cell, scan_method="auto" if method == "lax.scan" else method,
                    embed_dim=config.train_embed, hidden_dim=config.train_hidden, num_layers=config.train_layers,
                    dropout=0.0, dtype=config.train_dtype, max_len=length + 1, batch_size=config.train_batch,
                    seed=config.seed)
                run, row["params"] = jaxlua_step(train_config, config.train_vocab, batch)
                if method != "lax.scan":
                    row["resolved"] = kernels.resolve_method(method)
                row["step_ms"] = time_ms(run, repeats=config.repeats)
            except Exception as err:  # pylint: disable=broad-except
                logging.warning("train step %s/%s T=%d failed: %s", cell, method, length, err)
                row["error"] = f"{type(err).__name__}: {err}"[:300]
            rows.append(row)
    return rows


def gru_over_mingru(train_rows: list[dict]) -> list[dict]:
    """GRU step time / MinGRU step time per length and MinGRU scan method, beside the paper's figure."""
    by_key = {(r["cell"], r["method"], r["T"]): r for r in train_rows if "step_ms" in r}
    out = []
    for (cell, method, length), row in by_key.items():
        gru = by_key.get(("gru", "lax.scan", length))
        if cell == "mingru" and gru:
            ratio = round(gru["step_ms"] / row["step_ms"], 2)
            paper = PAPER_SPEEDUP.get(length)
            out.append({"T": length, "method": method, "speedup": ratio, "paper": paper,
                        "above_paper": None if paper is None else ratio > paper})
    return out


# ----------------------------------------------------------------------------- targets and the AUTO choice


def _row(rows, method, shape, dtype):
    return next((r for r in rows if r["method"] == method and (r["B"], r["T"], r["D"]) == tuple(shape)
                 and r["dtype"] == dtype and "fwd_bwd_ms" in r), None)


def targets(config: GpuSuiteConfig, rows: list[dict], ratios: list[dict]) -> dict:
    """The issue's targets as booleans (None where a figure is missing or the peak is unknown)."""
    speedups = []
    for shape in config.shapes:
        for dtype in config.dtypes:
            fused, assoc = _row(rows, "mingru_fused", shape, dtype), _row(rows, "mingru_associative", shape, dtype)
            if fused and assoc:
                speedups.append({"shape": list(shape), "dtype": dtype,
                                 "fwd_bwd_speedup": round(assoc["fwd_bwd_ms"] / fused["fwd_bwd_ms"], 2)})
    large = max(config.shapes, key=math.prod)
    peak_rows = []
    for dtype in config.dtypes:
        fused = _row(rows, "mingru_fused", large, dtype)
        for phase in ("fwd", "fwd_bwd"):
            frac = fused.get(f"kernel_{phase}_frac_peak") if fused else None
            peak_rows.append({"dtype": dtype, "phase": phase, "frac_peak": frac})
    fracs = [r["frac_peak"] for r in peak_rows]
    by_t = {r["T"]: r["above_paper"] for r in ratios if r["method"] == "pallas" and r["above_paper"] is not None}
    return {
        "fused_3x_faster_than_associative_fwd_bwd": {
            "met": all(s["fwd_bwd_speedup"] >= 3.0 for s in speedups) if speedups else None,
            "per_shape": speedups},
        "fused_60pct_of_peak_at_large_shape": {
            "shape": list(large), "basis": "kernel_bytes (bytes_moved of the kernels' plan) / time",
            "met": None if any(not isinstance(f, float) for f in fracs) else all(f >= 0.6 for f in fracs),
            "per_pass": peak_rows},
        "mingru_over_gru_above_paper": {"met": all(by_t.values()) if by_t else None, "per_T": by_t,
                                        "scan_method": "pallas"},
    }


def mingru_fwd_bwd(config: GpuSuiteConfig, rows: list[dict]) -> dict[str, list[float]]:
    """method -> MinGRU forward+backward ms over the suite's shapes and dtypes, run the way the cell runs it."""
    out: dict[str, list[float]] = {}
    for method, variant in MINGRU_VARIANTS.items():
        found = [_row(rows, variant, s, d) for s in config.shapes for d in config.dtypes]
        out[method] = [r["fwd_bwd_ms"] for r in found if r]
    return out


def run_gpu_suite(config: GpuSuiteConfig) -> dict[str, Any]:
    """Everything above, as one JSON-ready dict."""
    config.validate()
    key = jax.random.PRNGKey(config.seed)
    environment = bench_common.environment()
    peak = peak_bandwidth(environment["device"])
    result = {"suite": "gpu", "environment": environment, "auto_method": kernels.resolve_method("auto"),
              "peak_hbm_bytes_per_s": peak if peak else "unknown", "config": dataclasses.asdict(config)}
    logging.info("timing scans")
    result["scans"] = bench_scan_rows(config, key, peak)
    logging.info("timing train steps")
    result["train_steps"] = bench_train_steps(config)
    result["gru_over_mingru_train_step"] = gru_over_mingru(result["train_steps"])
    result["targets"] = targets(config, result["scans"], result["gru_over_mingru_train_step"])
    result["recommended_auto_method"] = recommended_auto_method(mingru_fwd_bwd(config, result["scans"]))
    logging.info("accuracy sweep")
    result["scan_error_vs_float64"] = scan_errors(("associative", "heinsen", "pallas", "sequential"),
                                                  config.error_lengths, config.error_dim, key)
    return bench_common.finish_environment(result)
