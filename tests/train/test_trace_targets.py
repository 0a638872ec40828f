"""Training on execution traces (`targets="trace_output"`): config, data checks, loss span, evaluation on outputs."""
import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from jaxlua.config import TrainConfig
from jaxlua.train.resume_rules import config_differences
from jaxlua.data import build_dataset, load_split
from jaxlua.data.splits import DatasetError
from jaxlua.lua import run_lua
from jaxlua.tokenize import OUT, STEP, TRACE_CUT, Tokenizer, encode_dataset
from jaxlua.data.run_data import build_vocabulary, encode_split, prepare_data
from tests.train.lua_data import write_dataset

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = dict(cell="gru", embed_dim=16, hidden_dim=32, num_layers=1, steps=4, warmup_steps=1, batch_size=8,
            eval_interval=2, checkpoint_interval=2, max_len=256, seed=1)


@pytest.fixture(scope="module")
def traced_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("trace_targets") / "data"
    build_dataset(out, 40, (1,), seed=7, workers=1, progress=False, trace=True)
    return out


def test_targets_is_a_validated_saved_resume_setting():
    config = TrainConfig(targets="trace_output")
    assert TrainConfig.from_json(config.to_json()).targets == "trace_output"
    assert config_differences(config, TrainConfig()) == ["targets: saved 'trace_output', now 'output'"]
    with pytest.raises(ValueError, match="unknown targets 'trace'"):
        TrainConfig(targets="trace")
    assert TrainConfig(targets="trace_output", stream=True).targets == "trace_output"  # the stream traces too


def test_trace_targets_put_the_trace_in_the_loss(traced_dir, tmp_path):
    from jaxlua.train.step import shifted  # pylint: disable=import-outside-toplevel

    data = prepare_data(TrainConfig(targets="trace_output", **TINY), traced_dir, cache_dir=tmp_path)
    vocab, train = data.vocab, data.train
    assert all(token in vocab.tokens for token in (STEP, OUT, TRACE_CUT)) and data.info["targets"] == "trace_output"
    assert (train.answer_start > train.output_start).all()
    rows = np.arange(len(train))
    assert (train.tokens[rows, train.answer_start - 1] == vocab.encode([OUT])[0]).all()
    _, _, _, loss_mask = shifted({"tokens": train.tokens, "lengths": train.lengths,
                                  "output_start": train.output_start}, include_program=False)
    traced_rows = rows[train.answer_start - train.output_start > 1]  # a trace with at least one step
    assert len(traced_rows) and loss_mask[traced_rows, train.output_start[traced_rows] - 1].all()


def test_trace_is_cut_to_the_room_the_output_leaves():
    source = "local n = 0\nfor i = 1, 40 do n = n + i end\nprint(n)\n"
    result = run_lua(source, trace=True)
    record = {"id": "r", "source": source, "stdout": result.stdout, "level": 1,
              "trace": [[s.line, [list(c) for c in s.changes]] for s in result.trace]}
    tokenizer = Tokenizer()
    vocab = build_vocabulary([record], tokenizer, traces=True)
    plain = encode_dataset([record], tokenizer, vocab, 64)
    max_len = int(plain.lengths[0]) + 12
    encoded = encode_dataset([record], tokenizer, vocab, max_len, targets="trace_output")
    assert len(encoded) == 1 and encoded.report["kept"] == 1 and encoded.lengths[0] <= max_len
    target = vocab.decode(encoded.tokens[0, encoded.output_start[0]:encoded.lengths[0] - 1])
    trace, output = tokenizer.split_target(target)
    assert trace[0] == STEP and trace[-1] == TRACE_CUT and tokenizer.decode_output(output) == result.stdout


def test_evaluation_scores_the_output_part_alone(traced_dir, monkeypatch):
    from jaxlua.eval import evaluator  # pylint: disable=import-outside-toplevel
    from flax import nnx  # pylint: disable=import-outside-toplevel
    from tests.eval.fakes import RecurrentLM  # pylint: disable=import-outside-toplevel

    records = load_split(traced_dir, "train")
    tokenizer = Tokenizer()
    vocab = build_vocabulary(records, tokenizer, traces=True)
    data = encode_dataset(records, tokenizer, vocab, 256, targets="trace_output")
    n = len(data)
    truth = [list(map(int, data.tokens[r, data.output_start[r]:data.lengths[r] - 1])) for r in range(n)]
    out_id = vocab.encode([OUT])[0]

    def evaluate(predicted, targets="trace_output"):
        def fake_decode(decoder, tokens, output_start, rows, **options):
            return [predicted[int(r)] for r in rows]
        monkeypatch.setattr(evaluator, "decode_rows", fake_decode)
        model = RecurrentLM(len(vocab), rngs=nnx.Rngs(0))
        return evaluator.evaluate_split(model, data, tokenizer, vocab, records=records, num_samples=0,
                                        latency_programs=0, progress=False, targets=targets)

    perfect = evaluate(truth)
    assert perfect.metrics["exact_match"] == 1.0 and perfect.metrics["trace_exact_match"] == 1.0
    assert perfect.metrics["token_exact_match"] == 1.0 and perfect.metrics["targets"] == "trace_output"
    assert [p["predicted_stdout"] for p in perfect.predictions] == [r["stdout"] for r in records[:n]]

    wrong_trace = [ids[:ids.index(out_id) - 1] + ids[ids.index(out_id):] if ids.index(out_id) > 0 else ids
                   for ids in truth]  # one trace token fewer, the output untouched
    changed = sum(a != b for a, b in zip(wrong_trace, truth))
    scored = evaluate(wrong_trace).metrics
    assert changed and scored["exact_match"] == 1.0 and scored["trace_exact_match"] == 1 - changed / n

    wrong_output = [ids[:ids.index(out_id) + 1] for ids in truth]  # the trace alone: no output
    assert evaluate(wrong_output).metrics["exact_match"] == 0.0
    assert evaluate(truth, targets="output").metrics["exact_match"] == 0.0  # unsplit, the trace spoils it


def test_tiny_trace_run_trains_and_evaluates(traced_dir, tmp_path, monkeypatch):
    from jaxlua.cli.experiment import run_experiment  # pylint: disable=import-outside-toplevel
    from jaxlua.config import EvalConfig  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("JAXLUA_CACHE", str(tmp_path / "cache"))
    config = TrainConfig(targets="trace_output", data_dir=str(traced_dir), **TINY)
    metrics = run_experiment(config, tmp_path / "run", EvalConfig(num_samples=0, latency_programs=2, limit=6),
                             progress=False)
    assert metrics["targets"] == "trace_output" and metrics["settings"]["targets"] == "trace_output"
    assert 0.0 <= metrics["trace_exact_match"] <= 1.0 and metrics["num_programs"] == 6
    assert metrics["train"]["dataset"]["targets"] == "trace_output"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["targets"] == "trace_output"
    assert OUT in json.dumps(json.loads((tmp_path / "run" / "vocab.json").read_text()))


def test_trace_targets_without_traces_fail_in_one_line(tmp_path):
    plain = write_dataset(tmp_path / "plain")
    done = subprocess.run([sys.executable, "-m", "experiments.train", f"--workdir={tmp_path / 'run'}",
                           f"--data_dir={plain}", "--targets=trace_output"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--targets trace_output" in lines[0] and "make_dataset --trace" in lines[0]
    assert not (tmp_path / "run").exists()
    # a meta.json that claims traces its records lack: caught when the data is read, one line too
    (plain / "meta.json").write_text(json.dumps({"trace": True}), encoding="utf-8")
    config = TrainConfig(targets="trace_output", data_dir=str(plain), **TINY)
    with pytest.raises(DatasetError, match="train.jsonl has none; build one with experiments.make_dataset --trace"):
        prepare_data(config, plain)
    records = load_split(plain, "test")
    with pytest.raises(DatasetError, match="make_dataset --trace"):
        encode_split(records, config, Tokenizer(), None, "test")


def test_stream_trace_targets_write_the_trace_before_the_output():
    """A traced stream: held-out records carry their Lua trace, train rows are `trace <OUT> output`, the vocabulary
    holds the trace tokens, and the program settings (which key the stream's log) record the targets."""
    from jaxlua.data.run_data import stream_config  # pylint: disable=import-outside-toplevel
    from jaxlua.data.stream import open_stream  # pylint: disable=import-outside-toplevel

    config = stream_config(TrainConfig(stream=True, levels="4", targets="trace_output", batch_size=4,
                                       heldout_per_level=4, stream_workers=1, max_len=128, num_buckets=1))
    assert config.targets == "trace_output"
    with open_stream(config, progress=False) as stream:
        assert all(isinstance(r["trace"], list) and r["trace"] for r in stream.val_records + stream.test_records)
        record = stream.val_records[0]
        assert run_lua(record["source"], trace=True).stdout == record["stdout"]
        assert stream.program_settings()["targets"] == "trace_output"
        vocab = stream.vocab
        batch = next(stream.batches(0))
        out_id, step_id = vocab.encode([OUT])[0], vocab.encode([STEP])[0]
        val = stream.val
        rows = list(zip(batch["tokens"], batch["lengths"], batch["output_start"]))
        rows += list(zip(val.tokens, val.lengths, val.output_start))  # the validation loss reads the trace too
        for row, length, start in rows:
            target = list(row[start:length])
            assert target[0] == step_id and out_id in target  # the trace comes first, then <OUT>, then the output
    with open_stream(dataclasses.replace(config, targets="output"), progress=False) as plain:
        assert "targets" not in plain.program_settings() and "trace" not in plain.val_records[0]
