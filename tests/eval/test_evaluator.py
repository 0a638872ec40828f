"""evaluate_model end to end on the scripted bigram model, with metrics checked by hand."""
import json
import math

import numpy as np
import pytest
from flax import nnx

from jaxlua.eval.decode import Decoder
from jaxlua.workdir_files import metrics_filename, predictions_filename
from jaxlua.eval.by_construct import GROUP_NAMES
from jaxlua.eval.evaluator import (PREDICTION_KEYS, evaluate_model, evaluate_split, format_metrics_table,
                                   write_metrics, write_predictions)
from jaxlua.eval.latency import output_text, predict_source
from tests.eval import fakes
from tests.eval.test_decode import MAX_LEN, VOCAB, scripted_table

TOKENIZER = fakes.ToyTokenizer()
# The scripted model always answers "ab" (greedy); sampled, it answers "ab" (p=0.6) or "xy" (p=0.4).
STDOUTS_BY_LEVEL = {1: ["ab", "ab", "ab", "xy"], 2: ["ab", "xy", "ba"]}


def make_records(stdouts_by_level=STDOUTS_BY_LEVEL):
    records = []
    for level, stdouts in stdouts_by_level.items():
        for i, stdout in enumerate(stdouts):
            records.append({"id": f"p{level}-{i}", "source": " ".join(["w"] * (1 + (i * 3) % 10)), "stdout": stdout,
                            "level": level})
    return records


def expected_nll(stdout: str) -> float:
    """Teacher-forced NLL of stdout + EOS after SEP, read off the scripted log-probability table."""
    table = scripted_table()
    table = table - np.log(np.exp(table).sum(axis=1, keepdims=True))
    ids = [VOCAB.sep_id, *VOCAB.encode(list(stdout)), VOCAB.eos_id]
    return -sum(table[a, b] for a, b in zip(ids, ids[1:]))


@pytest.fixture(scope="module")
def greedy_metrics():
    records = make_records()
    dataset = fakes.encode(records, TOKENIZER, VOCAB, MAX_LEN)
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    result = evaluate_model(model, dataset, TOKENIZER, VOCAB, records=records, batch_size=4, num_samples=0,
                            latency_programs=5, progress=False)
    assert model.dropout.deterministic is False  # the caller's model is left as it was
    return result


def test_greedy_metrics_by_hand(greedy_metrics):
    m = greedy_metrics
    assert m["num_programs"] == 7
    # Prediction "ab" everywhere. Level 1: 3 of 4 exact. Level 2: "ab" exact, "xy" disjoint, "ba" same bag.
    assert m["exact_match"] == pytest.approx(4 / 7)
    assert m["token_exact_match"] == pytest.approx(4 / 7)
    assert m["f1"] == pytest.approx(5 / 7)
    assert m["precision"] == pytest.approx(5 / 7) and m["recall"] == pytest.approx(5 / 7)
    assert m["sentence_similarity"] == pytest.approx(5 / 7)
    assert m["pass_at_1"] == pytest.approx(4 / 7)  # no samples: the greedy exact match
    level1, level2 = m["per_level"]["1"], m["per_level"]["2"]
    assert level1["exact_match"] == pytest.approx(3 / 4) and level1["num_programs"] == 4
    assert level2["exact_match"] == pytest.approx(1 / 3) and level2["f1"] == pytest.approx(2 / 3)
    assert m["num_undecodable"] == 0


def test_perplexity_is_per_output_token_with_eos(greedy_metrics):
    nll = {level: [expected_nll(s) for s in stdouts] for level, stdouts in STDOUTS_BY_LEVEL.items()}
    tokens = {level: [len(s) + 1 for s in stdouts] for level, stdouts in STDOUTS_BY_LEVEL.items()}
    total_nll = sum(sum(v) for v in nll.values())
    total_tokens = sum(sum(v) for v in tokens.values())
    assert greedy_metrics["perplexity"] == pytest.approx(math.exp(total_nll / total_tokens), rel=1e-4)
    assert greedy_metrics["per_level"]["1"]["perplexity"] == pytest.approx(
        math.exp(sum(nll[1]) / sum(tokens[1])), rel=1e-4)
    # Level 1 by hand: three "ab" (-log 0.6 each) and one "xy" (-log 0.4) over 4 x 3 tokens.
    assert greedy_metrics["per_level"]["1"]["perplexity"] == pytest.approx(
        math.exp((-3 * math.log(0.6) - math.log(0.4)) / 12), rel=1e-4)


def test_latency_throughput_and_device_recorded(greedy_metrics):
    m = greedy_metrics
    assert 0 < m["latency_ms_p50"] <= m["latency_ms_p95"]
    assert m["latency_programs"] == 5
    assert m["programs_per_s"] > 0
    assert m["device"]["platform"] == "cpu"
    assert any("latency_ms_p50" in s for s in m["per_level"].values())
    assert m["settings"]["max_new_tokens"] == MAX_LEN - 1


def test_table_and_metrics_json(greedy_metrics, tmp_path):
    table = format_metrics_table(greedy_metrics)
    lines = table.splitlines()
    assert lines[0].startswith("| split | N | EM | TokEM | F1 | SS | P@1 | Perp | Rcl | Prs | p50 ms | p95 ms |")
    assert lines[2].startswith("| all | 7 | 0.5714 |")
    assert lines[3].startswith("| level 1 | 4 | 0.7500 |") and lines[4].startswith("| level 2 | 3 | 0.3333 |")
    assert "programs/s" in table and "cpu" in table
    path = write_metrics(tmp_path / "run", greedy_metrics)
    assert path == tmp_path / "run" / "metrics.json"
    assert json.loads(path.read_text())["exact_match"] == pytest.approx(4 / 7)


def test_pass_at_k_from_samples():
    records = make_records({1: ["ab"] * 24, 2: ["xy"] * 24})
    dataset = fakes.encode(records, TOKENIZER, VOCAB, MAX_LEN)
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    m = evaluate_model(model, dataset, TOKENIZER, VOCAB, records=records, batch_size=16, num_samples=10,
                       temperature=1.0, seed=3, latency_programs=0, progress=False)
    assert m["per_level"]["1"]["pass_at_1"] == pytest.approx(0.6, abs=0.1)
    assert m["per_level"]["2"]["pass_at_1"] == pytest.approx(0.4, abs=0.1)
    assert m["per_level"]["2"]["exact_match"] == 0.0  # greedy never says "xy", sampling often does
    assert m["per_level"]["2"]["pass_at_10"] > 0.9  # 1 - 0.6^10 ~ 0.994 in expectation
    assert m["pass_at_1"] <= m["pass_at_5"] <= m["pass_at_10"] <= 1.0
    assert "latency_ms_p50" not in m
    again = evaluate_model(model, dataset, TOKENIZER, VOCAB, records=records, batch_size=16, num_samples=10,
                           temperature=1.0, seed=3, latency_programs=0, progress=False, limit=48)
    assert again["pass_at_5"] == m["pass_at_5"]  # same seed, same samples


def test_cold_sampling_pass_at_1_equals_exact_match_and_limit():
    records = make_records()
    dataset = fakes.encode(records, TOKENIZER, VOCAB, MAX_LEN)
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    m = evaluate_model(model, dataset, TOKENIZER, VOCAB, batch_size=4, num_samples=2, temperature=1e-3,
                       limit=4, progress=False)
    assert m["num_programs"] == 4 and list(m["per_level"]) == ["1"]
    assert m["pass_at_1"] == m["exact_match"] == pytest.approx(3 / 4)
    assert "latency_ms_p50" not in m  # no records: no source text to time


def test_bad_arguments_are_rejected():
    records = make_records()
    dataset = fakes.encode(records, TOKENIZER, VOCAB, MAX_LEN)
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_model(model, dataset, TOKENIZER, VOCAB, batch_size=0)
    with pytest.raises(ValueError, match="temperature"):
        evaluate_model(model, dataset, TOKENIZER, VOCAB, num_samples=5, temperature=0.0)
    with pytest.raises(ValueError, match="no record"):
        evaluate_model(model, dataset, TOKENIZER, VOCAB, records=records[:2], num_samples=0)


def test_predict_source_and_undecodable_outputs():
    decoder = Decoder(fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0)), eos_id=VOCAB.eos_id,
                      pad_id=VOCAB.pad_id, max_len=MAX_LEN)
    text, ids = predict_source(decoder, TOKENIZER, VOCAB, "w w w", max_new_tokens=8)
    assert text == "ab" and ids == VOCAB.encode(["a", "b"])
    with pytest.raises(fakes.ToySyntaxError):
        predict_source(decoder, TOKENIZER, VOCAB, "w @", max_new_tokens=8)
    with pytest.raises(ValueError, match="tokens long"):
        predict_source(decoder, TOKENIZER, VOCAB, " ".join(["w"] * MAX_LEN), max_new_tokens=8)
    assert output_text(TOKENIZER, VOCAB, [VOCAB.bos_id, VOCAB.stoi["a"]]) == "a"  # specials dropped
    assert output_text(TOKENIZER, VOCAB, [VOCAB.unk_id]) is None  # "<UNK>" is no output token


def test_truncated_rows_keep_their_last_output_token():
    records = [{"id": "t", "source": "w", "stdout": "abx", "level": 1}]
    dataset = fakes.encode(records, TOKENIZER, VOCAB, MAX_LEN)
    dataset.tokens[0, 5:] = VOCAB.pad_id  # as encode_dataset(overflow="truncate") leaves it: BOS w SEP a b
    dataset.lengths[0] = 5
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    m = evaluate_model(model, dataset, TOKENIZER, VOCAB, records=records, batch_size=2, num_samples=0,
                       latency_programs=0, progress=False)
    assert m["token_exact_match"] == 1.0  # prediction "ab" equals the (cut) reference tokens a b
    assert m["exact_match"] == 0.0  # but not the true stdout "abx"
    assert m["perplexity"] == pytest.approx(math.exp(-math.log(0.6) / 2), rel=1e-4)  # a and b; no EOS


# Real Lua sources (the toy tokenizer splits them on spaces; the scripted model answers "ab" whatever they say).
CONSTRUCT_RECORDS = [
    {"id": "loop-ok", "source": "for i=1,2 do end", "stdout": "ab", "level": 1},
    {"id": "loop-bad", "source": "while t do end", "stdout": "xy", "level": 1},
    {"id": "if-ok", "source": "if t then end", "stdout": "ab", "level": 1},
    {"id": "float-bad", "source": "print(1/2)", "stdout": "0.5", "level": 2},
    {"id": "method-ok", "source": "print(s:upper())", "stdout": "ab", "level": 2},
]


@pytest.fixture(scope="module")
def construct_evaluation():
    dataset = fakes.encode(CONSTRUCT_RECORDS, TOKENIZER, VOCAB, MAX_LEN)
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    return evaluate_split(model, dataset, TOKENIZER, VOCAB, records=CONSTRUCT_RECORDS, batch_size=4,
                          num_samples=0, latency_programs=0, progress=False)


def test_per_construct_exact_match(construct_evaluation):
    breakdown = construct_evaluation.metrics["per_construct"]
    assert list(breakdown) == list(GROUP_NAMES)
    assert breakdown["loops"] == {"n": 2, "exact_match": 0.5}
    assert breakdown["conditionals"] == {"n": 1, "exact_match": 1.0}
    assert breakdown["string_library"] == {"n": 1, "exact_match": 1.0}
    assert breakdown["functions"] == {"n": 1, "exact_match": 1.0}  # s:upper() is a method call
    assert breakdown["arithmetic"] == breakdown["float_output"] == {"n": 1, "exact_match": 0.0}
    assert breakdown["tables"] == {"n": 0, "exact_match": None}
    assert construct_evaluation.metrics["exact_match"] == pytest.approx(3 / 5)
    table = format_metrics_table(construct_evaluation.metrics)
    assert "| construct | N | EM |" in table and "| loops | 2 | 0.5000 |" in table
    assert "| tables |" not in table  # empty groups are left out of the printed table


def test_predictions_one_per_program(construct_evaluation):
    predictions = construct_evaluation.predictions
    assert [p["id"] for p in predictions] == [r["id"] for r in CONSTRUCT_RECORDS]
    assert all(tuple(p) == PREDICTION_KEYS for p in predictions)
    by_id = {p["id"]: p for p in predictions}
    assert by_id["loop-bad"]["stdout"] == "xy" and by_id["loop-bad"]["predicted_stdout"] == "ab"
    assert by_id["loop-bad"]["exact_match"] is False and by_id["loop-ok"]["exact_match"] is True
    assert by_id["float-bad"]["level"] == 2 and by_id["float-bad"]["source"] == "print(1/2)"
    assert by_id["float-bad"]["constructs"] == ["print", "float_division"]
    assert by_id["float-bad"]["construct_groups"] == ["arithmetic", "float_output"]
    assert set(by_id["method-ok"]["constructs"]) == {"print", "string.upper", "method_call"}


def test_predictions_without_records_have_no_source():
    dataset = fakes.encode(CONSTRUCT_RECORDS, TOKENIZER, VOCAB, MAX_LEN)
    model = fakes.BigramLM(scripted_table(), rngs=nnx.Rngs(0))
    evaluation = evaluate_split(model, dataset, TOKENIZER, VOCAB, batch_size=4, num_samples=0, limit=3,
                                progress=False)
    assert "per_construct" not in evaluation.metrics
    assert [p["id"] for p in evaluation.predictions] == ["loop-ok", "loop-bad", "if-ok"]
    assert all(p["source"] is None and p["constructs"] is None and p["construct_groups"] is None
               for p in evaluation.predictions)
    assert [p["exact_match"] for p in evaluation.predictions] == [True, False, True]


def test_predictions_file_beside_its_metrics(construct_evaluation, tmp_path):
    for name in ("metrics.json", "metrics_val.json"):
        write_metrics(tmp_path, construct_evaluation.metrics, filename=name)
        path = write_predictions(tmp_path, construct_evaluation.predictions, name)
        assert path.parent == tmp_path
        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == construct_evaluation.predictions
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "metrics.json", "metrics_val.json", "predictions.jsonl", "predictions_val.jsonl"]  # no temporary left


def test_predictions_filename_follows_the_metrics_filename():
    assert predictions_filename() == "predictions.jsonl"
    assert predictions_filename("metrics_val.json") == "predictions_val.jsonl"
    assert predictions_filename("metrics_hand-1a2b3c4d_all_limit5.json") == "predictions_hand-1a2b3c4d_all_limit5.jsonl"
    assert predictions_filename("results.json") == "results.predictions.jsonl"
    metrics_names = {metrics_filename(s, d, n) for s in ("train", "val", "test", "all") for d in (None, "x")
                     for n in (None, 5)}
    prediction_names = {predictions_filename(name) for name in metrics_names}
    assert len(prediction_names) == len(metrics_names) and not prediction_names & metrics_names
