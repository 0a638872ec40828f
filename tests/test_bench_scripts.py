"""Smoke tests of every benchmark suite at tiny sizes, and their one way of refusing bad flags.

Each suite's `run` goes through the same code as the command line on one cheap model and writes its JSON with
the shared writer into tmp_path (never results/); the tests check the JSON's shape and the sanity of the
numbers. The GPU scan suite runs with its Pallas kernels interpreted. Bad options are one clear error, and
exit code 2 with one line from the command line.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import jax
import pytest

from experiments import bench_common, bench_inference, bench_learning, bench_scan, bench_torch, bench_train_step
from experiments.bench_scan_cpu import AUTO_CANDIDATES, CpuSuiteConfig, run_cpu_suite
from experiments.bench_scan_gpu import GpuSuiteConfig, run_gpu_suite
from jaxlua.config import PRESETS

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
TINY_SCAN_CPU = dict(batch=2, dim=4, lengths=(8,), methods=("sequential", "associative"), cells=("gru", "mingru"),
                     error_lengths=(16,), error_dim=2, repeats=1)
TINY_SCAN_GPU = dict(shapes=((2, 8, 16),), dtypes=("float32",), train_lengths=(6,), train_batch=2, train_embed=8,
                     train_hidden=16, train_vocab=16, error_lengths=(8,), error_dim=2, repeats=1)
ENV_KEYS = {"date", "backend", "device", "jax", "cpus", "load_avg_1m_5m_15m_at_start", "load_avg_1m_5m_15m_at_end"}


def written(result: dict, tmp_path, name: str) -> dict:
    """`result` through the shared writer into tmp_path, read back."""
    path = bench_common.write_result(result, tmp_path / f"{name}.json", name)
    assert path.parent == tmp_path
    return json.loads(path.read_text())


def test_time_call_times_each_call_after_warmup():
    calls = []
    times = bench_common.time_call(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(times) == 3 and len(calls) == 5 and all(t >= 0 for t in times)
    assert bench_common.stats([1.0, 2.0, 3.0])["p50"] == 2.0
    with pytest.raises(ValueError, match="repeats"):
        bench_common.time_call(lambda: None, repeats=0)


def test_train_step_benchmark_tiny(tmp_path):
    result = written(bench_train_step.run(bench_train_step.Options(**TINY_TRAIN)), tmp_path, "bench_train_step")
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


def test_inference_benchmark_tiny(tmp_path):
    result = written(bench_inference.run(bench_inference.Options(**TINY_INFERENCE)), tmp_path, "bench_inference")
    assert result["benchmark"] == "inference"
    assert ENV_KEYS <= set(result["environment"])
    assert "random" in result["protocol"]["weights"]
    row = result["models"]["mingru"]
    assert set(row["latency_ms"]) == {"p50", "p95", "mean", "min"}
    assert 0 < row["latency_ms"]["min"] <= row["latency_ms"]["p50"] <= row["latency_ms"]["p95"]
    assert row["batched_programs_per_s"] > 0 and row["target_latency_ms"] in (1.0, 10.0)
    assert row["config"]["hidden_dim"] == 8 and row["config"]["vocab_size"] == 16


def test_scan_cpu_suite_tiny(tmp_path):
    result = written(run_cpu_suite(CpuSuiteConfig(**TINY_SCAN_CPU)), tmp_path, "bench_scan")
    assert result["suite"] == "cpu" and ENV_KEYS <= set(result["environment"])
    methods = {row["method"] for row in result["scans"]}
    assert methods == {"sequential", "associative"}
    assert all(row["fwd_ms"] > 0 and row["fwd_bwd_ms"] > 0 for row in result["scans"])
    cells = {(row["cell"], row["method"]) for row in result["cells"]}
    assert cells == {("gru", "lax.scan"), ("mingru", "auto"), ("mingru", "associative")}
    assert [row["T"] for row in result["mingru_parallel_over_gru"]] == [8]
    assert result["recommended_auto_method"] in AUTO_CANDIDATES
    errors = {(row["method"], row["input_dtype"]): row["max_rel_err"] for row in result["scan_error_vs_float64"]}
    assert errors[("associative", "float32")] < 1e-5 and errors[("sequential", "float32")] < 1e-5


def test_scan_gpu_suite_runs_interpreted_tiny(tmp_path):
    """The GPU suite's code path on CPU: every scan variant (Pallas interpreted) and every train step runs."""
    result = written(run_gpu_suite(GpuSuiteConfig(**TINY_SCAN_GPU)), tmp_path, "bench_scan_gpu")
    assert result["suite"] == "gpu" and ENV_KEYS <= set(result["environment"])
    failed = [row for row in result["scans"] + result["train_steps"] if "error" in row]
    assert not failed, failed
    variants = {row["method"] for row in result["scans"]}
    assert {"sequential", "associative", "heinsen", "pallas", "mingru_fused"} <= variants
    fused = next(row for row in result["scans"] if row["method"] == "mingru_fused")
    assert fused["kernel_bytes_fwd"] > 0 and fused["fwd_GBps"] >= 0 and "fwd_frac_peak" in fused
    assert {(row["cell"], row["method"]) for row in result["train_steps"]} == {
        ("gru", "lax.scan"), ("mingru", "auto"), ("mingru", "pallas")}
    assert all(row["step_ms"] > 0 and row["params"] > 0 for row in result["train_steps"])
    assert {row["method"] for row in result["gru_over_mingru_train_step"]} == {"auto", "pallas"}
    assert set(result["targets"]) == {"fused_3x_faster_than_associative_fwd_bwd",
                                      "fused_60pct_of_peak_at_large_shape", "mingru_over_gru_above_paper"}
    assert result["recommended_auto_method"] in AUTO_CANDIDATES
    errors = {(row["method"], row["input_dtype"]): row["max_rel_err"] for row in result["scan_error_vs_float64"]}
    assert errors[("pallas", "float32")] < 1e-5


def test_scan_command_line_writes_its_json_where_told(tmp_path):
    out = tmp_path / "scan.json"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.bench_scan", "--suite=cpu", "--batch=2", "--dim=4", "--lengths=8",
         "--cells=mingru", "--methods=sequential", "--error_lengths=8", "--error_dim=2", "--repeats=1",
         f"--out={out}"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["suite"] == "cpu" and result["config"]["lengths"] == [8]
    assert [row["method"] for row in result["scans"]] == ["sequential"]


def test_data_benchmark_tiny(tmp_path):
    """experiments/bench_data (generation, sandbox, build, tokenisation rates) from its command line."""
    out = tmp_path / "data.json"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.bench_data", "--num_programs=20", "--sample_programs=10",
         "--coverage_programs=5", "--levels=1", "--stream=false", f"--out={out}"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["build_programs"] == 20
    assert result["generation_programs_per_s"] > 0 and result["build_programs_per_s"] > 0


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: bench_train_step.Options(cells=("conv",)), "--cells"),
        (lambda: bench_train_step.Options(warmup=0), "--warmup"),
        (lambda: bench_train_step.Options(seq_len=1), "--seq_len"),
        (lambda: bench_inference.Options(models=("lstm", "cnn")), "--models"),
        (lambda: bench_inference.Options(latency_runs=0), "--latency_runs"),
        (lambda: bench_inference.Options(prompt_len=PRESETS["default"].model.max_len, new_tokens=20), "max_len"),
        (lambda: CpuSuiteConfig(methods=("magic",)), "--methods"),
        (lambda: CpuSuiteConfig(cells=("conv",)), "--cells"),
        (lambda: CpuSuiteConfig(lengths=(0,)), "--lengths"),
        (lambda: GpuSuiteConfig(dtypes=("float16",)), "float16"),
        (lambda: GpuSuiteConfig(train_vocab=4), "--train_vocab"),
        (lambda: bench_scan.resolve_suite("tpu", "cpu"), "--suite"),
    ],
)
def test_bad_options_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build().validate()


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["experiments.bench_inference", "--models=lstm,cnn"], "--models"),
        (["experiments.bench_train_step", "--cells=conv"], "--cells"),
        (["experiments.bench_scan", "--lengths=8,zero"], "--lengths"),
        (["experiments.bench_scan", "--suite=gpu", "--shapes=2x0x4"], "shape"),
        (["experiments.bench_data", "--levels=9"], "--levels"),
        (["experiments.bench_learning", "--recipes=default,nope"], "--recipes"),
        (["experiments.bench_learning", "--levels=4,9"], "--levels"),
        (["experiments.bench_learning", "--set=x=cell:conv", "--recipes=x"], "recipe x"),
        (["experiments.bench_learning", "--set=y=curriculum:blend", "--recipes=y"], "recipe y"),
        (["experiments.bench_learning", "--no_such_flag"], "no_such_flag"),
        (["experiments.bench_learning", "--set=t=targets:trace_output", "--recipes=t", "--out=/nonexistent/x"],
         "change targets"),
    ],
)
def test_bad_flag_is_one_line_and_exit_code_2(argv, flag):
    proc = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(argv[0].split(".")[-1] + ":") and flag in last


def test_missing_torch_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert bench_torch.torch_available() == bench_torch.TORCH_MISSING
    assert "bench" in bench_torch.TORCH_MISSING
    assert all(bench_torch.has_mirror(cell) for cell in bench_train_step.Options().cells)


# --- experiments.bench_learning -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(bench_learning.RECIPES))
def test_learning_recipes_are_valid_changes_of_the_default(name):
    options = bench_learning.Options()
    recipe = bench_learning.RECIPES[name]
    config = bench_learning.recipe_config(name, recipe, options)
    assert recipe.description and config.stream and config.time_budget_s == options.budget_s
    assert config.checkpoint_interval == config.eval_interval and config.max_to_keep >= 10_000
    saved = config.to_dict()
    for key, value in recipe.changes.items():
        where = next(part for part in (saved, saved["model"], saved["tokenizer"]) if key in part)
        assert where[key] == value, key
    # --levels restricts a recipe to those levels, in its own order when it names one.
    narrowed = bench_learning.recipe_config(name, recipe, bench_learning.Options(levels="7,6,5,4"))
    assert narrowed.stream_levels == ((4, 5, 6, 7) if "levels" in recipe.changes else (7, 6, 5, 4))


def test_learning_levels_set_and_scores():
    assert bench_learning.recipe_levels((0, 8, 4, 5), True, None) == (0, 8, 4, 5)
    assert bench_learning.recipe_levels((0, 8, 4, 5), True, (5, 1, 4)) == (4, 5, 1)
    assert bench_learning.recipe_levels((1, 2), False, (5, 4)) == (5, 4)
    (name, recipe), = bench_learning.parse_set(["wide=hidden_dim:512,levels:4,5, cell:gru,lr:1e-3"]).items()
    assert name == "wide" and recipe.changes == {"hidden_dim": 512, "levels": "4,5", "cell": "gru", "lr": 1e-3}
    for bad in ("default=cell:gru", "Bad=cell:gru", "x=cell", "nameonly"):
        with pytest.raises(ValueError, match="--set"):
            bench_learning.parse_set([bad])
    records = [{"id": f"{i:016x}", "level": level} for i, level in enumerate((4, 4, 4, 4, 5, 5))]
    # A program that was not scored (too long for max_len) counts as wrong.
    scored = bench_learning.exact_match_by_level({records[0]["id"]: True, records[1]["id"]: True,
                                                  records[4]["id"]: False}, records)
    assert scored == {"exact_match": pytest.approx(2 / 6), "by_level": {"4": 0.5, "5": 0.0}}
    curve = [{"step": s, "programs_seen": 8 * s, "seconds": float(s), "exact_match": em, "by_level": {"4": em}}
             for s, em in ((1, 0.1), (2, 0.85), (3, 0.7), (4, 0.96))]
    reach = bench_learning.reach(curve, ["4"])
    assert reach["0.5"]["all"] == {"step": 2, "programs_seen": 16, "seconds": 2.0}
    assert reach["0.8"]["by_level"]["4"]["step"] == 2 and reach["0.95"]["all"]["programs_seen"] == 32
    assert bench_learning.reach(curve[:3], ["4"])["0.95"] == {"all": None, "by_level": {"4": None}}


def _learning(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parent.parent), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "experiments.bench_learning", "--noprogress", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


TINY_LEARNING = ("--set=tiny_gru=num_layers:1,hidden_dim:32,embed_dim:16,batch_size:8",
                 "--set=tiny_lstm=cell:minlstm,num_layers:1,hidden_dim:32,embed_dim:16,batch_size:8",
                 "--recipes=tiny_gru,tiny_lstm", "--budget_s=6", "--levels=4", "--heldout_per_level=4",
                 "--eval_interval=1")


def test_learning_benchmark_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "heldout").mkdir()  # e.g. experiments.study's --out
    proc = _learning("--recipes=default", f"--out={tmp_path / 'study'}", f"--results_dir={tmp_path / 'r'}",
                     cwd=tmp_path)
    assert proc.returncode == 2 and "did not write" in proc.stderr.strip().splitlines()[-1]
    assert [p.name for p in (tmp_path / "study").iterdir()] == ["heldout"] and not (tmp_path / "r").exists()


def test_learning_benchmark_tiny(tmp_path):
    """Two recipes for a few seconds each: every evaluation point kept and scored on the same test set, the
    curves in order of programs seen, the test loss of a checkpoint equal to the loop's own validation loss on the
    same programs; a second invocation reuses the finished runs, and results are never overwritten silently."""
    out, results = tmp_path / "learning", tmp_path / "results"
    proc = _learning(*TINY_LEARNING, f"--out={out}", f"--results_dir={results}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    backend = jax.default_backend()
    written_files = {p.name for p in results.iterdir()}
    assert written_files == {f"learning_tiny_gru_{backend}.json", f"learning_tiny_lstm_{backend}.json"}
    heldout = [json.loads(line) for line in (out / "heldout" / "test.jsonl").read_text().splitlines()]
    assert len(heldout) == 4 and {r["level"] for r in heldout} == {4}
    for name in ("tiny_gru", "tiny_lstm"):
        result = json.loads((results / f"learning_{name}_{backend}.json").read_text())
        assert result["benchmark"] == "learning" and result["recipe"] == name
        assert ENV_KEYS <= set(result["environment"]) and "wall clock" in result["protocol"]["seconds"]
        assert result["levels_tested"] == [4] and result["levels_trained"] == [4]
        assert result["test_set"]["n_by_level"] == {"4": 4} and result["params"] > 0
        assert result["config"]["model"]["hidden_dim"] == 32 and result["budget_s"] == 6.0
        curve = result["curve"]
        assert [p["step"] for p in curve] == list(range(1, result["steps"] + 1))  # every step was a point here
        programs = [p["programs_seen"] for p in curve]
        assert programs == [8 * p["step"] for p in curve] and programs == sorted(set(programs))
        assert all(a["seconds"] <= b["seconds"] for a, b in zip(curve, curve[1:])) and curve[0]["seconds"] > 0
        for point in curve:
            assert 0.0 <= point["exact_match"] <= 1.0 and set(point["by_level"]) == {"4"}
            assert math.isfinite(point["loss"]) and point["loss"] > 0
        final = result["final"]
        assert final["step"] == result["steps"] and final["exact_match"] == curve[-1]["exact_match"]
        assert set(final["greedy"]["by_level"]) == {"4"} and 0.0 <= final["greedy"]["exact_match"] <= 1.0
        assert set(result["reach"]) == {"0.5", "0.8", "0.95"}
        assert set(result["reach"]["0.5"]["by_level"]) == {"4"}
        # The recipe trains on the base levels: its stream excludes exactly the benchmark's test programs.
        assert result["seen_in_training"]["n"] == 0 and result["seen_in_training"]["keys_logged"] >= 8
        assert (out / name / "predictions_benchmark_test.jsonl").is_file()

    # The scorer restores checkpoints faithfully: on the validation programs (the same for the run and for the
    # base settings), its loss at every point is the loss the training loop measured there.
    config = bench_learning.TrainConfig.from_json((out / "tiny_gru" / "config.json").read_text())
    val = [json.loads(line) for line in (out / "heldout" / "val.jsonl").read_text().splitlines()]
    scorer = bench_learning.Scorer(out / "tiny_gru", config, val)
    try:
        result = json.loads((results / f"learning_tiny_gru_{backend}.json").read_text())
        for point in (result["curve"][0], result["curve"][-1]):
            assert scorer.score(point["step"])["loss"] == pytest.approx(point["val_loss"], rel=1e-4)
    finally:
        scorer.close()

    before = (results / f"learning_tiny_gru_{backend}.json").read_text()
    refused = _learning(*TINY_LEARNING, f"--out={out}", f"--results_dir={results}", cwd=tmp_path)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr.strip().splitlines()[-1]
    again = _learning(*TINY_LEARNING, f"--out={out}", f"--results_dir={results}", "--overwrite", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "time budget" not in again.stderr  # nothing was trained again
    assert json.loads((results / f"learning_tiny_gru_{backend}.json").read_text())["curve"] == \
        json.loads(before)["curve"]
