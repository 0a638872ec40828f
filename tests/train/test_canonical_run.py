"""A tiny run with canonical identifiers, as a user runs it: make_dataset -> train a few steps -> evaluate
(slow: about a minute of compilation on CPU)."""
import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run(*args, env):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=900, env=env)


def test_canonical_run_trains_and_evaluates(tmp_path):
    from jaxlua.tokenize import Tokenizer  # pylint: disable=import-outside-toplevel

    env = {**os.environ, "JAXLUA_CACHE": str(tmp_path / "cache"), "JAX_PLATFORMS": "cpu"}
    data, workdir = tmp_path / "data", tmp_path / "run"
    made = run("experiments.make_dataset", f"--out={data}", "--num_programs=300", "--levels=4", "--seed=0", env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    trained = run("experiments.train", f"--workdir={workdir}", f"--data_dir={data}", "--identifiers=canonical",
                  "--cell=gru", "--embed_dim=16", "--hidden_dim=32", "--steps=4", "--warmup_steps=1",
                  "--batch_size=8", "--eval_interval=4", "--checkpoint_interval=4", "--eval_limit=8",
                  "--eval_latency_programs=2", "--noprogress", env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "| all | 8 |" in trained.stdout

    canonical = Tokenizer(identifiers="canonical")
    vocab = json.loads((workdir / "vocab.json").read_text())
    assert vocab["settings"] == canonical.settings()
    assert set(canonical.reserved_tokens()) <= set(vocab["tokens"])  # library names, seen in training or not
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["num_programs"] == 8 and metrics["train"]["config"]["tokenizer"]["identifiers"] == "canonical"

    other = data.parent / "other"
    other.mkdir()
    (other / "test.jsonl").write_text("")
    failed = run("experiments.evaluate", f"--workdir={workdir}", f"--data_dir={other}", env=env)
    assert failed.returncode == 2, failed.stderr[-2000:]
    lines = [line for line in failed.stderr.splitlines() if line.strip() and not re.match(r"[IW]\d{4} ", line)]
    assert lines == [f"error: {other / 'test.jsonl'} holds no program; rebuild the dataset with "
                     "experiments.make_dataset"], failed.stderr[-2000:]
