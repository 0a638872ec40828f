"""One training step of jaxlua against PyTorch at the dissertation's size; print JSON, write results/.

    python -m experiments.bench_train_step                          # B=128, E=500, H=900, V=1000, T=128
    python -m experiments.bench_train_step --cells=gru,mingru --repeats=5
    python -m experiments.bench_train_step --batch=4 --embed=16 --hidden=24 --vocab=50 --seq_len=12  # tiny

jaxlua side: the real step of `jaxlua.train` (`make_train_step`: jit, donated state, AdamW + global-norm
clipping, label-smoothed cross-entropy on the output tokens) on the model `build` makes from the "paper"
preset with the sizes above. PyTorch side (eager, the code a user would write): the same network, layer for
layer — Embedding -> Dropout -> LayerNorm -> cell -> Dropout -> LayerNorm -> Linear head — with
`torch.nn.RNN/LSTM/GRU` for the classic cells and the `mingru-pytorch` package's `minGRU`/`minLSTM` for the
minimal cells, the same loss (masked, label-smoothed CE), clipping and AdamW (weight decay on matrices only).
Both sides run the final norm, head and loss on the same positions: each row's window from its first output
token, as wide as the batch's longest output (jaxlua's `loss_window`, which its training loop always uses).
Both sides train on the same token batch. Each step is timed alone (`bench_common.time_call`), the two sides
alternate step by step so that load from other users of a shared machine hits both alike, warmup steps
(compilation included) are excluded, and the median is reported. `speedup` = torch ms / jaxlua ms. The PyTorch
side is `experiments/bench_torch.py`; cells without a PyTorch counterpart there are timed on the jaxlua side only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import numpy as np
from absl import app, flags, logging
from flax import nnx
from tqdm import tqdm

from experiments import bench_common, bench_torch
from experiments.bench_common import option
from jaxlua.config import CELLS, PRESETS, TrainConfig

MACHINE_NOTE = (
    "shared machine: other jobs run at the same time (see load_avg); the two sides alternate "
    "step by step and medians are reported, but absolute times are noisy"
)
GEMM_REPEATS = 5
SCRIPT = "bench_train_step"
FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything one benchmark run needs; each field is also a flag (`bench_common.define_flags`)."""

    cells: tuple[str, ...] = option(CELLS.names(), f"Cells to time, from {', '.join(CELLS.names())}.")
    batch: int = option(128, "Batch size (dissertation: 128).")
    embed: int = option(500, "Embedding width (dissertation: 500).")
    hidden: int = option(900, "Hidden width (dissertation: 900).")
    vocab: int = option(1000, "Vocabulary size (dissertation: about 1000).")
    seq_len: int = option(128, "Time steps per row the cell runs over (dissertation: ~128).")
    warmup: int = option(2, "Untimed steps per side before timing (>= 1: the first compiles).")
    repeats: int = option(3, "Timed steps per side; the median is reported.")
    torch_threads: int = option(0, "torch.set_num_threads (0: leave torch's default).")
    torch: bool = option(True, "Time the PyTorch side too (needs the `bench` extra).")
    seed: int = option(0, "Seed of the batch and of both models' parameters.")

    def validate(self) -> "Options":
        """Raises ValueError naming the first bad option."""
        bench_common.check_names("cells", self.cells, CELLS.names())
        bench_common.check_positive(self, "batch", "embed", "hidden", "repeats")
        if self.vocab < 8:
            raise ValueError(f"--vocab must be >= 8 (5 special ids + program/output tokens); got {self.vocab}")
        if self.seq_len < 2:
            raise ValueError(f"--seq_len must be >= 2; got {self.seq_len}")
        if self.warmup < 1:
            raise ValueError(f"--warmup must be >= 1 (the first step compiles); got {self.warmup}")
        if self.torch_threads < 0:
            raise ValueError(f"--torch_threads must be >= 0; got {self.torch_threads}")
        return self


def train_config(options: Options, cell: str) -> TrainConfig:
    """The "paper" preset at the benchmark's sizes: dropout 0.5, label smoothing 0.2, AdamW, clip 1.0."""
    return PRESETS["paper"].replace(
        cell=cell,
        embed_dim=options.embed,
        hidden_dim=options.hidden,
        batch_size=options.batch,
        max_len=options.seq_len + 1,
        seed=options.seed,
    )


def make_batch(options: Options) -> dict[str, np.ndarray]:
    """Full-length rows of random non-special ids; the output (the loss) starts between 40% and 80% in.

    `tokens` has seq_len + 1 columns: the step feeds tokens[:, :-1] and predicts tokens[:, 1:], so every cell
    runs over exactly seq_len steps on both sides.
    """
    rng = np.random.default_rng(options.seed)
    width = options.seq_len + 1
    tokens = rng.integers(5, options.vocab, size=(options.batch, width), dtype=np.int32)
    output_start = rng.integers(int(0.4 * width), int(0.8 * width) + 1, size=options.batch).astype(np.int32)
    output_start = np.clip(output_start, 1, width - 1)
    return {"tokens": tokens, "lengths": np.full(options.batch, width, np.int32), "output_start": output_start}


def loss_weights(batch: dict[str, np.ndarray]) -> np.ndarray:
    """float32[B, T]: 1 where target position t+1 is an output token (as jaxlua.train.step.shifted computes)."""
    target_pos = np.arange(1, batch["tokens"].shape[1])[None, :]
    lengths, start = batch["lengths"][:, None], batch["output_start"][:, None]
    return ((target_pos < lengths) & (target_pos >= start)).astype(np.float32)


def window_positions(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(int64 [B, W], bool [B, W]): the positions jaxlua's train step runs its head on (`loss_window_positions`
    with the window `output_span` of the batch), as NumPy arrays for the PyTorch side."""
    from jaxlua.train.step import loss_window_positions, output_span

    window = output_span(batch["lengths"], batch["output_start"])
    index, in_range = loss_window_positions(batch, window, batch["tokens"].shape[1] - 1)
    return np.asarray(index, np.int64), np.asarray(in_range)


def cell_matmul_flops_per_token(cell: str, embed: int, hidden: int) -> int:
    """Forward matmul FLOPs of `cell` per token: 2 K N for each of its 2-D weights [K, N] (read off the cell)."""
    cls = CELLS.get(cell)
    abstract = nnx.eval_shape(lambda: cls(embed, hidden, rngs=nnx.Rngs(0)))
    weights = jax.tree.leaves(nnx.state(abstract, nnx.Param))
    return sum(2 * w.shape[0] * w.shape[1] for w in weights if len(w.shape) == 2)


def step_matmul_gflop(options: Options, cell: str, head_positions: int) -> float:
    """Matmul GFLOP of one training step (forward + the two backward products, so 3x the forward).

    The cell's weights on every one of the B*T tokens (input projection `E x G*H`, and for the classic cells
    the recurrent product `H x G*H`; the minimal cells have none) and the head `H x V` on B*W positions (W =
    head positions per row). Everything else (gates, norms, loss, AdamW) is elementwise and left out, so
    flops / time is a lower bound on the matmul throughput a step needs.
    """
    tokens = options.batch * options.seq_len
    forward = tokens * cell_matmul_flops_per_token(cell, options.embed, options.hidden)
    forward += 2 * options.batch * head_positions * options.hidden * options.vocab
    return 3 * forward / 1e9


def gemm_shape(options: Options) -> tuple[int, int, int]:
    """(M, K, N) = (B*T, H, 4H): all rows of a batch through the LSTM's recurrent weights."""
    return options.batch * options.seq_len, options.hidden, 4 * options.hidden


def gemm_gflops(shape: tuple[int, int, int], torch_device: str | None) -> dict[str, float]:
    """Best-of-GEMM_REPEATS fp32 GEMM throughput of each side at `shape`: the ceiling the step time meets."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    matmul = jax.jit(lambda x, y: x @ y)
    ja, jb = jax.device_put(a), jax.device_put(b)
    calls = {"jaxlua": lambda: matmul(ja, jb)}
    if torch_device is not None:
        calls["torch"] = bench_torch.torch_matmul(a, b, torch_device)
    return {side: round(2 * m * k * n / (min(bench_common.time_call(call, GEMM_REPEATS)) / 1e3) / 1e9, 1)
            for side, call in calls.items()}


def time_alternating(
    sides: dict[str, Callable[[], Any]], warmup: int, repeats: int, desc: str
) -> dict[str, list[float]]:
    """Milliseconds of each call, sides interleaved call by call; `warmup` untimed calls each first."""
    for _ in range(warmup):
        for call in sides.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in tqdm(range(repeats), desc=desc, leave=False):
        for name, call in sides.items():
            times[name] += bench_common.time_call(call, repeats=1, warmup=0)
    return times


def summarize(row: dict[str, Any]) -> dict[str, Any]:
    """Adds median and min ms per side from `<side>_ms_all`, and both speed-ups when torch was timed.

    On a shared machine the median is the typical step under the current load; the min is the step least
    disturbed by other jobs (PyTorch's OpenMP threads suffer more than XLA's from an oversubscribed CPU).
    """
    for side in ("jaxlua", "torch"):
        if f"{side}_ms_all" in row:
            row[f"{side}_ms"] = bench_common.median_ms(row[f"{side}_ms_all"], 2)
            row[f"{side}_ms_min"] = round(min(row[f"{side}_ms_all"]), 2)
    if "torch_ms_all" in row:
        row["speedup"] = round(row["torch_ms"] / row["jaxlua_ms"], 3)
        row["speedup_of_min"] = round(row["torch_ms_min"] / row["jaxlua_ms_min"], 3)
    return row


def torch_device_or_reason(options: Options) -> tuple[str | None, str | None]:
    """(torch device, None) when the PyTorch side runs, else (None, why not)."""
    if not options.torch:
        return None, "--notorch"
    reason = bench_torch.torch_available()
    if reason is not None:
        logging.warning("%s; timing jaxlua only", reason)
        return None, reason
    if options.torch_threads:
        import torch

        torch.set_num_threads(options.torch_threads)
    return bench_torch.pick_device(jax.default_backend() == "gpu"), None


def run(options: Options) -> dict[str, Any]:
    """Time every cell on both sides; the result dict that is printed and written."""
    options.validate()
    torch_device, torch_reason = torch_device_or_reason(options)
    config = train_config(options, options.cells[0])
    batch = make_batch(options)
    index, in_range = window_positions(batch)  # the head runs on the same positions on both sides
    head_positions = int(index.shape[1])
    environment = bench_common.environment(MACHINE_NOTE)
    if torch_device is not None:
        environment.update(bench_torch.torch_environment(torch_device))
    result: dict[str, Any] = {
        "benchmark": "train_step",
        "environment": environment,
        "sizes": {
            "batch": options.batch,
            "embed": options.embed,
            "hidden": options.hidden,
            "vocab": options.vocab,
            "seq_len": options.seq_len,
            "num_layers": 1,
        },
        "protocol": {
            "warmup_steps": options.warmup,
            "timed_steps": options.repeats,
            "statistic": "median ms/step",
            "interleaved": True,
            "same_batch_both_sides": True,
            "loss_tokens_per_step": int(loss_weights(batch).sum()),
            "head_positions_per_row": head_positions,
            "head_positions_note": (
                "both sides run the final norm, the head and the loss only on each row's window of "
                "head_positions_per_row positions from its first output token (jaxlua.train.step's loss_window, "
                "which the training loop sets to the longest output of the training split), not on all seq_len"
            ),
            "training_hyperparameters": {
                k: config.flat()[k]
                for k in ("dropout", "label_smoothing", "lr", "weight_decay", "b1", "b2", "clip_norm")
            },
        },
        "speedup_definition": (
            "speedup = median torch ms / median jaxlua ms, speedup_of_min = min torch ms / "
            "min jaxlua ms (> 1: jaxlua faster); target >= 2"
        ),
        "torch_skipped_reason": torch_reason,
        "cells": {},
    }
    m, k, n = gemm_shape(options)
    result["gemm_gflops"] = {
        "shape_mkn": [m, k, n],
        "statistic": f"best of {GEMM_REPEATS} fp32 {m}x{k} @ {k}x{n} products",
        **gemm_gflops((m, k, n), torch_device),
    }
    result["matmul_note"] = (
        "matmul_gflop_per_step counts the step's matrix products only (see step_matmul_gflop); "
        "<side>_matmul_gflops_at_min = that / the side's fastest step. A side cannot beat gemm_gflops[side] "
        "on them, so (gemm_gflops of jaxlua) / (torch_matmul_gflops_at_min) bounds the speed-up a step whose "
        "time is mostly matmuls can reach"
    )
    torch_weights = np.take_along_axis(loss_weights(batch), index, axis=1) * in_range
    for cell in options.cells:
        jax_run, jax_params = bench_common.jaxlua_step(train_config(options, cell), options.vocab, batch)
        losses: list[float] = []
        first_ms = bench_common.time_call(lambda: losses.append(jax_run()), repeats=1, warmup=0)[0]  # compiles
        row: dict[str, Any] = {
            "jaxlua_params": jax_params,
            "jaxlua_first_step_ms_with_compile": round(first_ms, 1),
            "jaxlua_first_loss": round(losses[0], 4),
        }
        sides = {"jaxlua": jax_run}
        if torch_device is not None and bench_torch.has_mirror(cell):
            torch_run, torch_params, mapping = bench_torch.torch_step(
                cell, options, train_config(options, cell), batch["tokens"], index, torch_weights, torch_device)
            row.update(
                {"torch_params": torch_params, "torch_model": mapping, "torch_first_loss": round(torch_run(), 4)}
            )
            sides["torch"] = torch_run
        times = time_alternating(sides, options.warmup - 1, options.repeats, desc=cell)  # 1 warmup done
        for name, values in times.items():
            row[f"{name}_ms_all"] = [round(v, 2) for v in values]
        gflop = step_matmul_gflop(options, cell, head_positions)
        row["matmul_gflop_per_step"] = round(gflop, 1)
        for side in sides:
            row[f"{side}_matmul_gflops_at_min"] = round(gflop / (min(row[f"{side}_ms_all"]) / 1e3), 1)
        result["cells"][cell] = summarize(row)
        logging.info("%s: %s", cell, {k: v for k, v in row.items() if not k.endswith("_all") and k != "torch_model"})
    return bench_common.finish_environment(result)


def main(argv: list[str]) -> None:
    options = bench_common.options_or_exit(SCRIPT, argv, lambda: bench_common.options_from_flags(Options).validate())
    if options.torch and bench_torch.torch_available() is not None:
        bench_common.bad_flag(SCRIPT, f"{bench_torch.torch_available()}; pass --notorch to time jaxlua alone")
    bench_common.write_result(run(options), FLAGS.out, SCRIPT)


if __name__ == "__main__":
    bench_common.define_flags(Options)
    flags.DEFINE_string("out", None, "Output JSON path (default results/bench_train_step_<backend>.json).")
    app.run(main)
