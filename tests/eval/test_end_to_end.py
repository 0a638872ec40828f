"""make_dataset -> train (a few steps) -> evaluate -> predict, as a user runs them (slow: minutes on CPU)."""
import json
import os
import subprocess
import sys

import pytest

from jaxlua.workdir_files import metrics_filename

pytestmark = pytest.mark.slow

CONTRACT_KEYS = {"exact_match", "token_exact_match", "precision", "recall", "f1", "sentence_similarity", "pass_at_1",
                 "perplexity", "latency_ms_p50", "latency_ms_p95", "programs_per_s", "per_level"}


def run(*args, env):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=900, env=env)


def test_scripts_end_to_end(tmp_path):
    env = {**os.environ, "JAXLUA_CACHE": str(tmp_path / "cache")}
    data, workdir = tmp_path / "data", tmp_path / "run"
    made = run("experiments.make_dataset", f"--out={data}", "--num_programs=120", "--levels=1,2", "--seed=3", env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    trained = run("experiments.train", f"--workdir={workdir}", f"--data_dir={data}", "--cell=gru", "--embed_dim=16",
                  "--hidden_dim=32", "--steps=8", "--warmup_steps=2", "--batch_size=8", "--eval_interval=4",
                  "--checkpoint_interval=4", "--noeval", "--noprogress", env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]

    evaluated = run("experiments.evaluate", f"--workdir={workdir}", "--num_samples=5", "--latency_programs=4",
                    "--limit=12", env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "| split | N | EM |" in evaluated.stdout
    limited = workdir / metrics_filename("test", None, 12)  # a --limit never replaces the run's metrics.json
    assert f"wrote {limited}" in evaluated.stdout and not (workdir / "metrics.json").exists()
    metrics = json.loads(limited.read_text())
    assert CONTRACT_KEYS <= set(metrics) and metrics["num_programs"] == 12 and "pass_at_5" in metrics
    assert metrics["perplexity"] > 1.0 and set(metrics["per_level"]) <= {"1", "2"}
    predictions = [json.loads(line) for line in (workdir / "predictions_test_limit12.jsonl").read_text().splitlines()]
    assert len(predictions) == 12 and {p["level"] for p in predictions} <= {1, 2}
    assert sum(p["exact_match"] for p in predictions) / 12 == pytest.approx(metrics["exact_match"])
    assert all(metrics["per_construct"][group]["n"] >= 1 for p in predictions for group in p["construct_groups"])

    program = tmp_path / "prog.lua"
    program.write_text('local x = 3\nprint("Answer: " .. (x * 2))\n', encoding="utf-8")
    predicted = run("experiments.predict", f"--workdir={workdir}", f"--file={program}", env=env)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert "predicted output:" in predicted.stdout and "Answer: 6" in predicted.stdout
    assert "latency:" in predicted.stdout

    broken = tmp_path / "broken.lua"
    broken.write_text('print("a" ..\n', encoding="utf-8")
    failed = run("experiments.predict", f"--workdir={workdir}", f"--file={broken}", env=env)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == [failed.stderr.strip()]  # one line
    assert "does not parse" in failed.stderr
