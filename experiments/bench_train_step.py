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
Both sides train on the same token batch. Each step is timed alone (jax: `block_until_ready`), the two sides
alternate step by step so that load from other users of a shared machine hits both alike, warmup steps
(compilation included) are excluded, and the median is reported. `speedup` = torch ms / jaxlua ms.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import statistics
import sys
import time
from typing import Any, Callable

import jax
import numpy as np
from absl import app, flags, logging
from tqdm import tqdm

from experiments import bench_common
from jaxlua.train import PRESETS

CELLS = ("rnn", "lstm", "gru", "mingru", "minlstm")
TORCH_MISSING = (
    "PyTorch is not installed: the PyTorch side of this benchmark needs the `bench` extra "
    "(pip install -e '.[bench]', i.e. torch and mingru-pytorch)"
)
MACHINE_NOTE = (
    "shared machine: other jobs run at the same time (see load_avg); the two sides alternate "
    "step by step and medians are reported, but absolute times are noisy"
)


def define_flags() -> None:
    """Declare the flags (only when run as a script, so that the benchmark scripts import together)."""
    flags.DEFINE_list("cells", list(CELLS), f"Cells to time, from {', '.join(CELLS)}.")
    flags.DEFINE_integer("batch", 128, "Batch size (dissertation: 128).")
    flags.DEFINE_integer("embed", 500, "Embedding width (dissertation: 500).")
    flags.DEFINE_integer("hidden", 900, "Hidden width (dissertation: 900).")
    flags.DEFINE_integer("vocab", 1000, "Vocabulary size (dissertation: about 1000).")
    flags.DEFINE_integer("seq_len", 128, "Time steps per row the cell runs over (dissertation: ~128).")
    flags.DEFINE_integer("warmup", 2, "Untimed steps per side before timing (>= 1: the first compiles).")
    flags.DEFINE_integer("repeats", 3, "Timed steps per side; the median is reported.")
    flags.DEFINE_integer("torch_threads", 0, "torch.set_num_threads (0: leave torch's default).")
    flags.DEFINE_boolean("torch", True, "Time the PyTorch side too (needs the `bench` extra).")
    flags.DEFINE_integer("seed", 0, "Seed of the batch and of both models' parameters.")
    flags.DEFINE_string("out", None, "Output JSON path (default results/bench_train_step_<backend>.json).")


FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything one benchmark run needs (the flags, validated)."""

    cells: tuple[str, ...] = CELLS
    batch: int = 128
    embed: int = 500
    hidden: int = 900
    vocab: int = 1000
    seq_len: int = 128
    warmup: int = 2
    repeats: int = 3
    torch_threads: int = 0
    torch: bool = True
    seed: int = 0

    def validate(self) -> "Options":
        """Raises ValueError naming the first bad option."""
        unknown = [c for c in self.cells if c not in CELLS]
        if not self.cells or unknown:
            raise ValueError(f"--cells must be a non-empty list from {', '.join(CELLS)}; got {','.join(self.cells)}")
        for name in ("batch", "embed", "hidden", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1; got {getattr(self, name)}")
        if self.vocab < 8:
            raise ValueError(f"--vocab must be >= 8 (5 special ids + program/output tokens); got {self.vocab}")
        if self.seq_len < 2:
            raise ValueError(f"--seq_len must be >= 2; got {self.seq_len}")
        if self.warmup < 1:
            raise ValueError(f"--warmup must be >= 1 (the first step compiles); got {self.warmup}")
        if self.torch_threads < 0:
            raise ValueError(f"--torch_threads must be >= 0; got {self.torch_threads}")
        return self


def train_config(options: Options, cell: str):
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


GATES = {"rnn": 1, "lstm": 4, "gru": 3, "mingru": 2, "minlstm": 3}  # input-projection blocks of H per cell


def step_matmul_gflop(options: Options, cell: str, head_positions: int) -> float:
    """Matmul GFLOP of one training step (forward + the two backward products, so 3x the forward).

    Input projection `B*T x E x G*H`, recurrent product `B*T x H x G*H` (classic cells only: the minimal cells
    have none) and head `B*W x H x V` (W = head positions per row). Everything else (gates, norms, loss,
    AdamW) is elementwise and left out, so flops / time is a lower bound on the matmul throughput a step needs.
    """
    rows, hidden, g = options.batch * options.seq_len, options.hidden, GATES[cell]
    forward = 2 * rows * options.embed * g * hidden
    if cell in ("rnn", "lstm", "gru"):
        forward += 2 * rows * hidden * g * hidden
    forward += 2 * options.batch * head_positions * hidden * options.vocab
    return 3 * forward / 1e9


def gemm_shape(options: Options) -> tuple[int, int, int]:
    """(M, K, N) = (B*T, H, 4H): all rows of a batch through the LSTM's recurrent weights (16384, 900, 3600)."""
    return options.batch * options.seq_len, options.hidden, 4 * options.hidden


def gemm_gflops(shape: tuple[int, int, int], torch_device: str | None, repeats: int = 5) -> dict[str, float]:
    """Best-of-`repeats` fp32 GEMM throughput of each side at `shape`: the ceiling the step time meets."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    out = {}
    matmul = jax.jit(lambda x, y: x @ y)
    ja, jb = jax.device_put(a), jax.device_put(b)
    jax.block_until_ready(matmul(ja, jb))
    best = min(_timed(lambda: jax.block_until_ready(matmul(ja, jb))) for _ in range(repeats))
    out["jaxlua"] = round(2 * m * k * n / best / 1e9, 1)
    if torch_device is not None:
        import torch

        ta, tb = torch.from_numpy(a).to(torch_device), torch.from_numpy(b).to(torch_device)
        sync = torch.cuda.synchronize if torch_device.startswith("cuda") else (lambda: None)
        torch.mm(ta, tb)
        sync()
        best = min(_timed(lambda: (torch.mm(ta, tb), sync())) for _ in range(repeats))
        out["torch"] = round(2 * m * k * n / best / 1e9, 1)
    return out


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_alternating(
    sides: dict[str, Callable[[], Any]], warmup: int, repeats: int, desc: str
) -> dict[str, list[float]]:
    """Milliseconds of each call, sides interleaved call by call; `warmup` untimed calls each first."""
    for _ in range(warmup):
        for run in sides.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in tqdm(range(repeats), desc=desc, leave=False):
        for name, run in sides.items():
            times[name].append(_timed(run) * 1e3)
    return times


def summarize(row: dict[str, Any]) -> dict[str, Any]:
    """Adds median and min ms per side from `<side>_ms_all`, and both speed-ups when torch was timed.

    On a shared machine the median is the typical step under the current load; the min is the step least
    disturbed by other jobs (PyTorch's OpenMP threads suffer more than XLA's from an oversubscribed CPU).
    """
    for side in ("jaxlua", "torch"):
        if f"{side}_ms_all" in row:
            row[f"{side}_ms"] = round(statistics.median(row[f"{side}_ms_all"]), 2)
            row[f"{side}_ms_min"] = round(min(row[f"{side}_ms_all"]), 2)
    if "torch_ms_all" in row:
        row["speedup"] = round(row["torch_ms"] / row["jaxlua_ms"], 3)
        row["speedup_of_min"] = round(row["torch_ms_min"] / row["jaxlua_ms_min"], 3)
    return row


def jaxlua_step(options: Options, cell: str, batch: dict[str, np.ndarray]) -> tuple[Callable[[], float], int]:
    """(run one training step and return its loss, number of parameters) for the jaxlua model of `cell`."""
    from jaxlua.train.model_state import build_model, count_params, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.step import make_train_step, output_span

    config = train_config(options, cell).validate()
    model = build_model(config, options.vocab)
    state, graphs = initial_train_state(model, config)
    window = output_span(batch["lengths"], batch["output_start"])  # what the training loop passes
    step_fn = make_train_step(graphs.train_def, make_optimizer(config), config, loss_window=window)
    device_batch = {k: jax.device_put(v) for k, v in batch.items()}
    rng = jax.random.key(options.seed)
    holder = {"state": state}
    n_params = count_params(state.params)

    def run() -> float:
        new_state, metrics = step_fn(holder["state"], device_batch, rng)
        jax.block_until_ready((new_state, metrics))
        holder["state"] = new_state
        return float(metrics["loss"])

    return run, n_params


def torch_step(options: Options, cell: str, batch: dict[str, np.ndarray], device: str):
    """(run one eager PyTorch training step and return its loss, number of parameters, the cell's mapping)."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    config = train_config(options, cell)
    torch.manual_seed(options.seed)
    model = TorchLanguageModel(cell, options.vocab, options.embed, options.hidden, config.dropout).to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(config.b1, config.b2),
    )
    tokens = torch.from_numpy(batch["tokens"]).long().to(device)
    index, in_range = window_positions(batch)  # the head runs on the same positions as jaxlua's
    inputs = tokens[:, :-1]
    targets = tokens[:, 1:].gather(1, torch.from_numpy(index).to(device)).reshape(-1)
    weights = np.take_along_axis(loss_weights(batch), index, axis=1) * in_range
    weights = torch.from_numpy(weights.astype(np.float32)).reshape(-1).to(device)
    position_index = torch.from_numpy(index).to(device)
    denom = weights.sum().clamp_min(1.0)
    model.train()

    def run() -> float:
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs, position_index)
        token_loss = F.cross_entropy(
            logits.reshape(-1, options.vocab), targets, reduction="none", label_smoothing=config.label_smoothing
        )
        loss = (token_loss * weights).sum() / denom
        loss.backward()
        if config.clip_norm > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return float(loss.detach())

    n_params = sum(p.numel() for p in model.parameters())
    return run, n_params, model.mapping


def torch_cell(cell: str, embed: int, hidden: int):
    """(module mapping [B,T,embed] -> [B,T,hidden], description of the exact PyTorch module used)."""
    from torch import nn

    if cell in ("rnn", "lstm", "gru"):
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        return cls(embed, hidden, batch_first=True), f"torch.nn.{cls.__name__}({embed}, {hidden}, batch_first=True)"
    from minGRU_pytorch import minGRU
    from minGRU_pytorch.minLSTM import minLSTM

    cls = minGRU if cell == "mingru" else minLSTM
    module = cls(embed, expansion_factor=hidden / embed, proj_out=False)
    inner = module.to_out.in_features if hasattr(module.to_out, "in_features") else None
    width = (module.to_hidden_and_gate if cell == "mingru" else module.to_hidden_and_f_i_gate).out_features
    gates = 2 if cell == "mingru" else 3
    if width != gates * hidden or inner is not None:
        raise RuntimeError(f"minGRU_pytorch gave inner width {width // gates}, expected {hidden}")
    return module, (
        f"minGRU_pytorch.{cls.__name__}({embed}, expansion_factor={hidden}/{embed}, proj_out=False): "
        f"inner width {hidden} fed straight to the head like jaxlua's cell output (proj_out=True would "
        f"add a {hidden}->{embed} projection jaxlua does not have); its parallel (seq_len > 1) path, "
        "the Heinsen log-space scan; no biases"
    )


@functools.cache
def _torch_module_class():
    from torch import nn

    class _TorchLanguageModel(nn.Module):
        """The jaxlua LanguageModel's layers in PyTorch (one block, first block without residual)."""

        def __init__(self, cell: str, vocab: int, embed: int, hidden: int, dropout: float) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.drop = nn.Dropout(dropout)
            self.norm_in = nn.LayerNorm(embed)
            self.cell, cell_text = torch_cell(cell, embed, hidden)
            self.classic = cell in ("rnn", "lstm", "gru")
            self.norm_out = nn.LayerNorm(hidden)
            self.head = nn.Linear(hidden, vocab)
            self.mapping = (
                f"Embedding({vocab}, {embed}) -> Dropout({dropout}) -> LayerNorm({embed}) -> {cell_text} -> "
                f"Dropout({dropout}) -> LayerNorm({hidden}) -> Linear({hidden}, {vocab})"
            )

        def forward(self, tokens, positions=None):
            """Logits [B, T, V], or [B, W, V] at `positions` (int64 [B, W]) only."""
            x = self.norm_in(self.drop(self.embed(tokens)))
            y = self.cell(x)
            y = self.drop(y[0] if self.classic else y)
            if positions is not None:
                y = y.gather(1, positions[..., None].expand(-1, -1, y.shape[-1]))
            return self.head(self.norm_out(y))

    return _TorchLanguageModel


def TorchLanguageModel(*args, **kwargs):  # pylint: disable=invalid-name
    """Builds the PyTorch mirror of the jaxlua model (the class is defined lazily: torch is optional)."""
    return _torch_module_class()(*args, **kwargs)


def torch_available() -> str | None:
    """None if torch and mingru-pytorch import, else the reason."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return TORCH_MISSING
    try:
        import minGRU_pytorch  # noqa: F401
    except ImportError:
        return "mingru-pytorch is not installed (pip install mingru-pytorch): the minimal cells have no PyTorch side"
    return None


def environment(torch_device: str | None) -> dict[str, Any]:
    """Device, versions, date and machine load: what the numbers depend on."""
    env = bench_common.environment(MACHINE_NOTE)
    if torch_device is not None:
        import torch

        env.update(
            {"torch": torch.__version__, "torch_device": torch_device, "torch_num_threads": torch.get_num_threads()}
        )
        try:
            from importlib.metadata import version

            env["mingru_pytorch"] = version("mingru-pytorch")
        except Exception:  # pylint: disable=broad-except
            env["mingru_pytorch"] = None
    return env


def run(options: Options) -> dict[str, Any]:
    """Time every cell on both sides; the result dict that is printed and written."""
    options.validate()
    torch_device = None
    torch_reason = None if options.torch else "--notorch"
    if options.torch:
        torch_reason = torch_available()
        if torch_reason is None:
            import torch

            if options.torch_threads:
                torch.set_num_threads(options.torch_threads)
            torch_device = "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"
        else:
            logging.warning("%s; timing jaxlua only", torch_reason)
    config = train_config(options, options.cells[0])
    batch = make_batch(options)
    head_positions = int(window_positions(batch)[0].shape[1])
    result: dict[str, Any] = {
        "benchmark": "train_step",
        "environment": environment(torch_device),
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
                k: getattr(config, k)
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
        "statistic": f"best of 5 fp32 {m}x{k} @ {k}x{n} products",
        **gemm_gflops((m, k, n), torch_device),
    }
    result["matmul_note"] = (
        "matmul_gflop_per_step counts the step's matrix products only (see step_matmul_gflop); "
        "<side>_matmul_gflops_at_min = that / the side's fastest step. A side cannot beat gemm_gflops[side] "
        "on them, so (gemm_gflops of jaxlua) / (torch_matmul_gflops_at_min) bounds the speed-up a step whose "
        "time is mostly matmuls can reach"
    )
    for cell in options.cells:
        jax_run, jax_params = jaxlua_step(options, cell, batch)
        start = time.perf_counter()
        first_loss = jax_run()
        compile_ms = (time.perf_counter() - start) * 1e3
        sides = {"jaxlua": jax_run}
        row: dict[str, Any] = {
            "jaxlua_params": jax_params,
            "jaxlua_first_step_ms_with_compile": round(compile_ms, 1),
            "jaxlua_first_loss": round(first_loss, 4),
        }
        if torch_device is not None:
            torch_run, torch_params, mapping = torch_step(options, cell, batch, torch_device)
            row.update(
                {"torch_params": torch_params, "torch_model": mapping, "torch_first_loss": round(torch_run(), 4)}
            )
            sides["torch"] = torch_run
        times = time_alternating(sides, options.warmup - 1, options.repeats, desc=cell)  # 1 warmup done
        for name, values in times.items():
            row[f"{name}_ms_all"] = [round(v, 2) for v in values]
        gflop = step_matmul_gflop(options, cell, head_positions)
        row["matmul_gflop_per_step"] = round(gflop, 1)
        for side in ("jaxlua", "torch"):
            if f"{side}_ms_all" in row:
                row[f"{side}_matmul_gflops_at_min"] = round(gflop / (min(row[f"{side}_ms_all"]) / 1e3), 1)
        result["cells"][cell] = summarize(row)
        logging.info("%s: %s", cell, {k: v for k, v in row.items() if not k.endswith("_all") and k != "torch_model"})
    result["environment"]["load_avg_1m_5m_15m_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.stderr.write(f"bench_train_step: unexpected arguments {argv[1:]}\n")
        sys.exit(2)
    try:
        options = Options(
            cells=tuple(c.strip() for c in FLAGS.cells if c.strip()),
            batch=FLAGS.batch,
            embed=FLAGS.embed,
            hidden=FLAGS.hidden,
            vocab=FLAGS.vocab,
            seq_len=FLAGS.seq_len,
            warmup=FLAGS.warmup,
            repeats=FLAGS.repeats,
            torch_threads=FLAGS.torch_threads,
            torch=FLAGS.torch,
            seed=FLAGS.seed,
        ).validate()
    except ValueError as error:
        sys.stderr.write(f"bench_train_step: {error}\n")
        sys.exit(2)
    if options.torch and torch_available() is not None:
        sys.stderr.write(f"bench_train_step: {torch_available()}; pass --notorch to time jaxlua alone\n")
        sys.exit(2)
    bench_common.write_result(run(options), FLAGS.out, "bench_train_step")


if __name__ == "__main__":
    define_flags()
    app.run(main)
