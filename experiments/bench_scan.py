"""Benchmark the linear-recurrence scans; print JSON and write results/bench_scan_<backend>.json.

Two suites (`--suite`; `auto` runs the GPU suite on accelerators and the CPU suite on CPU):

- cpu (`experiments/bench_scan_cpu.py`): forward and forward+backward wall time of every scan method and every
  cell at B x D over the lengths, the parallel MinGRU over the sequential GRU, and the error of each scan
  method against a float64 sequential reference as T grows.
- gpu (`experiments/bench_scan_gpu.py`): every scan method and the fused MinGRU kernel at (B, T, D) shapes in
  fp32 and bf16 with achieved bandwidth and its fraction of the device's peak; a full training step of a MinGRU
  language model against a GRU (lax.scan) of the same width, against the minGRU paper's speed-ups; the
  kernel's targets as booleans.

Both record which method `method="auto"` should pick on this backend (`recommended_auto_method`); a test checks
`kernels.AUTO_METHOD` against every results/bench_scan_<backend>.json.

    python -m experiments.bench_scan                       # the suite for this backend
    python -m experiments.bench_scan --lengths=256 --repeats=2 --error_lengths=256,4096   # quick CPU run
    python -m experiments.bench_scan --suite=gpu --shapes=2x64x32 --train_lengths=16 --train_batch=2 \\
        --train_hidden=32 --error_lengths=64 --repeats=1     # the GPU suite's code path on CPU (Pallas interprets)

The results file is results/bench_scan_<backend>.json when the suite is the backend's own (cpu on CPU, gpu on a
GPU); any other pairing (e.g. the GPU suite interpreted on CPU) goes to runs/, never into results/.
"""
from __future__ import annotations

import pathlib
from typing import Any

import jax
from absl import app, flags

from experiments import bench_common
from experiments.bench_scan_cpu import CpuSuiteConfig, run_cpu_suite
from experiments.bench_scan_gpu import GpuSuiteConfig, parse_shape, run_gpu_suite
from jaxlua.config import CELLS

SCRIPT = "bench_scan"
SUITES = ("auto", "cpu", "gpu")
_CPU, _GPU = CpuSuiteConfig(), GpuSuiteConfig()


def define_flags() -> None:
    """Declare the flags (only when run as a script, so that the benchmark scripts import together)."""
    flags.DEFINE_string("suite", "auto", f"Which suite: {', '.join(SUITES)} (auto: gpu on accelerators, cpu on CPU).")
    flags.DEFINE_integer("batch", _CPU.batch, "CPU suite: batch size B.")
    flags.DEFINE_integer("dim", _CPU.dim, "CPU suite: feature width D (scan width; cell input and hidden size).")
    flags.DEFINE_list("lengths", [str(t) for t in _CPU.lengths], "CPU suite: sequence lengths T.")
    flags.DEFINE_list("methods", None, "CPU suite: scan methods to time (default: every method; pallas only on a "
                      "GPU, since off a GPU Pallas only interprets its kernel: no speed figure).")
    flags.DEFINE_list("cells", list(CELLS.names()), "CPU suite: cells to time.")
    flags.DEFINE_list("error_lengths", None, "Lengths for the accuracy sweep (B=1, D=error_dim, fp32 vs float64); "
                      f"default: cpu {','.join(map(str, _CPU.error_lengths))}, "
                      f"gpu {','.join(map(str, _GPU.error_lengths))}.")
    flags.DEFINE_integer("error_dim", _CPU.error_dim, "Width of the accuracy sweep.")
    flags.DEFINE_integer("repeats", _CPU.repeats, "Timed repeats per measurement (median reported).")
    flags.DEFINE_string("out", None, "Output JSON path (default: see the module docstring).")
    flags.DEFINE_integer("seed", 0, "Random seed for the inputs.")
    flags.DEFINE_list("shapes", ["x".join(map(str, s)) for s in _GPU.shapes], "GPU suite: scan shapes BxTxD.")
    flags.DEFINE_list("dtypes", list(_GPU.dtypes), "GPU suite: input dtypes of the scans.")
    flags.DEFINE_list("train_lengths", [str(t) for t in _GPU.train_lengths], "GPU suite: train-step lengths T.")
    flags.DEFINE_integer("train_batch", _GPU.train_batch, "GPU suite: train-step batch size.")
    flags.DEFINE_integer("train_embed", _GPU.train_embed, "GPU suite: embedding width of both language models.")
    flags.DEFINE_integer("train_hidden", _GPU.train_hidden, "GPU suite: hidden width of both language models.")
    flags.DEFINE_integer("train_layers", _GPU.train_layers, "GPU suite: recurrent layers of both language models.")
    flags.DEFINE_integer("train_vocab", _GPU.train_vocab, "GPU suite: vocabulary size (the dissertation's ~1000).")
    flags.DEFINE_string("train_dtype", _GPU.train_dtype, "GPU suite: model compute dtype (float32 or bfloat16).")


FLAGS = flags.FLAGS


def resolve_suite(suite: str, backend: str) -> str:
    """"cpu" or "gpu": `suite`, with "auto" meaning the backend's own."""
    if suite not in SUITES:
        raise ValueError(f"--suite must be one of {', '.join(SUITES)}; got {suite!r}")
    if suite != "auto":
        return suite
    return "cpu" if backend == "cpu" else "gpu"


def config_from_flags(suite: str) -> CpuSuiteConfig | GpuSuiteConfig:
    """The chosen suite's configuration from the flags, validated (ValueError naming the bad flag)."""
    error_lengths = {} if FLAGS.error_lengths is None else {
        "error_lengths": bench_common.int_list("error_lengths", FLAGS.error_lengths)}
    common = dict(error_dim=FLAGS.error_dim, repeats=FLAGS.repeats, seed=FLAGS.seed, **error_lengths)
    if suite == "cpu":
        return CpuSuiteConfig(
            batch=FLAGS.batch, dim=FLAGS.dim, lengths=bench_common.int_list("lengths", FLAGS.lengths),
            methods=None if FLAGS.methods is None else tuple(FLAGS.methods), cells=tuple(FLAGS.cells), **common,
        ).validate()
    return GpuSuiteConfig(
        shapes=tuple(parse_shape(s) for s in FLAGS.shapes), dtypes=tuple(FLAGS.dtypes),
        train_lengths=bench_common.int_list("train_lengths", FLAGS.train_lengths), train_batch=FLAGS.train_batch,
        train_embed=FLAGS.train_embed, train_hidden=FLAGS.train_hidden, train_layers=FLAGS.train_layers,
        train_vocab=FLAGS.train_vocab, train_dtype=FLAGS.train_dtype, **common,
    ).validate()


def run(config: CpuSuiteConfig | GpuSuiteConfig) -> dict[str, Any]:
    """The suite `config` configures, as one JSON-ready dict."""
    return run_cpu_suite(config) if isinstance(config, CpuSuiteConfig) else run_gpu_suite(config)


def default_out(suite: str, backend: str) -> pathlib.Path:
    """results/ holds only a backend's own suite; other pairings (e.g. the GPU suite on CPU) go to runs/."""
    if suite == resolve_suite("auto", backend):
        return bench_common.default_out_path(SCRIPT)
    return pathlib.Path(f"runs/{SCRIPT}_{suite}_suite_on_{backend}.json")


def main(argv: list[str]) -> None:
    backend = jax.default_backend()
    suite = bench_common.options_or_exit(SCRIPT, argv, lambda: resolve_suite(FLAGS.suite, backend))
    config = bench_common.options_or_exit(SCRIPT, argv, lambda: config_from_flags(suite))
    bench_common.write_result(run(config), FLAGS.out or default_out(suite, backend), SCRIPT)


if __name__ == "__main__":
    define_flags()
    app.run(main)
