"""Smoke test of experiments/bench_train_step.py and experiments/bench_inference.py at tiny sizes.

Runs each benchmark's `run` on one cheap model and checks the JSON shape and the sanity of the numbers; checks
that bad options are one clear error (exit code 2 from the command line).
"""

import json
import math
import subprocess
import sys

import pytest

from experiments import bench_inference, bench_train_step
from jaxlua.train import PRESETS

TINY_TRAIN = dict(cells=("mingru",), batch=2, embed=8, hidden=12, vocab=16, seq_len=6, warmup=1, repeats=2)
TINY_INFERENCE = dict(
    models=("mingru",),
    paper_mingru=False,
    embed=8,
    hidden=8,
    layers=1,
    vocab=16,
    prompt_len=10,
    new_tokens=3,
    warmup=1,
    latency_runs=3,
    batch=3,
    batch_runs=1,
)
ENV_KEYS = {"date", "backend", "device", "jax", "cpus", "load_avg_1m_5m_15m_at_start", "load_avg_1m_5m_15m_at_end"}


def test_train_step_benchmark_tiny():
    result = bench_train_step.run(bench_train_step.Options(**TINY_TRAIN))
    json.dumps(result)  # serialisable as printed
    assert result["benchmark"] == "train_step"
    assert ENV_KEYS <= set(result["environment"])
    assert result["sizes"] == {"batch": 2, "embed": 8, "hidden": 12, "vocab": 16, "seq_len": 6, "num_layers": 1}
    row = result["cells"]["mingru"]
    assert len(row["jaxlua_ms_all"]) == 2 and row["jaxlua_ms"] > 0
    assert math.isfinite(row["jaxlua_first_loss"]) and row["jaxlua_first_loss"] > 0
    # Matmul accounting: B*T*E*2H (projection) + B*W*H*V (head), x2 flops, x3 for fwd+bwd.
    head = result["protocol"]["head_positions_per_row"]
    assert 1 <= head <= 6
    assert "matmul_gflop_per_step" in row
    assert result["gemm_gflops"]["shape_mkn"] == [12, 12, 48] and result["gemm_gflops"]["jaxlua"] > 0
    if result["torch_skipped_reason"] is None:
        assert result["environment"]["torch_num_threads"] >= 1
        assert row["torch_ms"] > 0 and row["speedup"] == pytest.approx(row["torch_ms"] / row["jaxlua_ms"], rel=0.01)
        assert row["torch_ms_min"] <= row["torch_ms"] and row["speedup_of_min"] > 0
        # Same network on both sides: equal sizes up to the cell's biases, which minGRU-pytorch leaves out.
        assert row["torch_params"] == row["jaxlua_params"] - 2 * 12
        assert "minGRU" in row["torch_model"]
        # Untrained, label-smoothed CE starts near log(vocab) on both sides.
        for side in ("jaxlua", "torch"):
            assert abs(row[f"{side}_first_loss"] - math.log(16)) < 1.0


def test_step_matmul_gflop_counts_projection_recurrence_and_head():
    options = bench_train_step.Options(batch=128, embed=500, hidden=900, vocab=1000, seq_len=128)
    rows = 128 * 128
    head = 2 * 128 * 80 * 900 * 1000
    lstm = 3 * (2 * rows * 500 * 3600 + 2 * rows * 900 * 3600 + head) / 1e9
    mingru = 3 * (2 * rows * 500 * 1800 + head) / 1e9  # no recurrent product
    assert bench_train_step.step_matmul_gflop(options, "lstm", 80) == pytest.approx(lstm)
    assert bench_train_step.step_matmul_gflop(options, "mingru", 80) == pytest.approx(mingru)
    assert bench_train_step.gemm_shape(options) == (rows, 900, 3600)


def test_inference_benchmark_tiny():
    result = bench_inference.run(bench_inference.Options(**TINY_INFERENCE))
    json.dumps(result)
    assert result["benchmark"] == "inference"
    assert ENV_KEYS <= set(result["environment"])
    assert "random" in result["protocol"]["weights"]
    row = result["models"]["mingru"]
    assert set(row["latency_ms"]) == {"p50", "p95", "mean", "min"}
    assert 0 < row["latency_ms"]["min"] <= row["latency_ms"]["p50"] <= row["latency_ms"]["p95"]
    assert row["batched_programs_per_s"] > 0 and row["target_latency_ms"] in (1.0, 10.0)
    assert row["config"]["hidden_dim"] == 8 and row["config"]["vocab_size"] == 16


@pytest.mark.parametrize(
    "module,options,message",
    [
        (bench_train_step, dict(cells=("conv",)), "--cells"),
        (bench_train_step, dict(warmup=0), "--warmup"),
        (bench_train_step, dict(seq_len=1), "--seq_len"),
        (bench_inference, dict(models=("lstm", "cnn")), "--models"),
        (bench_inference, dict(latency_runs=0), "--latency_runs"),
        (bench_inference, dict(prompt_len=PRESETS["default"].max_len, new_tokens=20), "max_len"),
    ],
)
def test_bad_options_are_named(module, options, message):
    with pytest.raises(ValueError, match=message):
        module.Options(**options).validate()


def test_bad_flag_exits_with_code_2():
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.bench_inference", "--models=lstm,cnn"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "--models" in proc.stderr.strip().splitlines()[-1]


def test_missing_torch_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert bench_train_step.torch_available() == bench_train_step.TORCH_MISSING
    assert "bench" in bench_train_step.TORCH_MISSING
