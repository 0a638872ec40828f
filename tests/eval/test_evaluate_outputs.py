"""What a trained run's evaluation leaves in its workdir: metrics and predictions files, `--split all`."""
import json

import pytest

from jaxlua.cli.experiment import run_experiment
from jaxlua.cli.run_eval import evaluate_run
from jaxlua.config import EVALUATE, EvalConfig, TrainConfig
from jaxlua.eval.evaluator import PREDICTION_KEYS
from tests.train.lua_data import PROGRAMS, write_dataset

# Three of PROGRAMS parse (the last does not and is dropped by the encoder), in each of the three splits.
PARSING = len(PROGRAMS) - 1


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_outputs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAXLUA_CACHE", str(root / "cache"))
        data = write_dataset(root / "data")
        config = TrainConfig(cell="gru", embed_dim=8, hidden_dim=16, num_layers=1, steps=2, warmup_steps=1,
                             batch_size=2, eval_interval=2, checkpoint_interval=2, max_len=64, data_dir=str(data))
        metrics = run_experiment(config, root / "run", EvalConfig(num_samples=0, latency_programs=0),
                                 progress=False)
        yield root / "run", metrics


def test_training_writes_predictions_beside_metrics(trained_run):
    workdir, metrics = trained_run
    predictions = read_jsonl(workdir / "predictions.jsonl")
    assert len(predictions) == metrics["num_programs"] == PARSING
    assert all(tuple(p) == PREDICTION_KEYS for p in predictions)
    assert [p["source"] for p in predictions] == [source for source, _ in PROGRAMS[:PARSING]]
    assert [p["stdout"] for p in predictions] == [stdout for _, stdout in PROGRAMS[:PARSING]]
    assert sum(p["exact_match"] for p in predictions) / PARSING == metrics["exact_match"]
    assert "for_numeric" in predictions[2]["constructs"] and predictions[2]["construct_groups"][0] == "loops"
    saved = json.loads((workdir / "metrics.json").read_text(encoding="utf-8"))
    assert saved["per_construct"]["loops"]["n"] == 1 and saved["per_construct"]["string_library"]["n"] == 1


def test_split_all_scores_every_record_in_its_own_files(trained_run, monkeypatch):
    workdir, _ = trained_run
    monkeypatch.setenv("JAXLUA_CACHE", str(workdir.parent / "cache"))
    before = {p.name: p.read_bytes() for p in workdir.iterdir() if p.is_file()}
    metrics = evaluate_run(workdir, EVALUATE.replace(split="all", num_samples=0, latency_programs=0))
    assert metrics["num_programs"] == 3 * PARSING and metrics["split"] == "all"
    assert metrics["file"] == str(workdir / "metrics_all.json")
    assert metrics["predictions_file"] == str(workdir / "predictions_all.jsonl")
    predictions = read_jsonl(workdir / "predictions_all.jsonl")
    assert sorted(p["id"] for p in predictions) == sorted(
        f"{split}-{i}" for split in ("train", "val", "test") for i in range(PARSING))
    assert json.loads((workdir / "metrics_all.json").read_text(encoding="utf-8"))["per_construct"]["loops"]["n"] == 3
    # The run's own files are untouched.
    assert {name: (workdir / name).read_bytes() for name in ("metrics.json", "predictions.jsonl")} == {
        name: before[name] for name in ("metrics.json", "predictions.jsonl")}
