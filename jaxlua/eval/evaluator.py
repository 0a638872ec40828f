"""The evaluator every experiment shares: decode a split, score it, time it, write metrics and predictions.

Flow: greedy decoding of every program (batched, jit) -> text via the tokenizer -> per-program metrics;
n sampled outputs per program for pass@k; teacher-forced NLL for perplexity; batch-1 latency from
source text to text on a sample of programs. Everything is averaged per program, overall and per level
(jaxlua.eval.metrics), and exact match per construct group (jaxlua.eval.by_construct). Beside a metrics file
goes its predictions file, one JSON line per program (PREDICTION_KEYS), for reading the errors themselves.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any, Mapping, Sequence

import jax
import numpy as np
from absl import logging
from flax import nnx

from jaxlua.eval import by_construct as C
from jaxlua.eval import metrics as M
from jaxlua.eval.decode import Decoder, decode_rows, length_bucket, score_rows, strip_output
from jaxlua.config import TARGETS, EvalConfig
from jaxlua.eval.latency import measure_latency, output_text, target_tokenizer
from jaxlua.io import atomic_write_text
from jaxlua.workdir_files import METRICS_FILE, predictions_filename
# One line of a predictions file: the program, its true and greedy predicted stdout (None: the predicted tokens
# form no text), their exact match, and the fine constructs and groups of the program (None without records).
PREDICTION_KEYS: tuple[str, ...] = (
    "id", "level", "source", "stdout", "predicted_stdout", "exact_match", "constructs", "construct_groups",
)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What evaluate_split returns: the metrics (JSON-ready) and one prediction per program (PREDICTION_KEYS)."""

    metrics: dict[str, Any]
    predictions: list[dict[str, Any]]


def device_info() -> dict[str, Any]:
    """The accelerator the numbers were measured on."""
    device = jax.devices()[0]
    return {"platform": device.platform, "device_kind": device.device_kind,
            "device_count": jax.device_count(), "jax_version": jax.__version__}


def _warm_up(decoder: Decoder, dataset: Any, rows: np.ndarray, batch_size: int, max_new_tokens: int) -> None:
    """Compile greedy decoding once per prompt-length bucket so that programs_per_s excludes compile time."""
    by_bucket: dict[int, int] = {}
    for row in rows:
        by_bucket.setdefault(length_bucket(int(dataset.output_start[row]), decoder.max_len), int(row))
    for row in by_bucket.values():
        decode_rows(decoder, dataset.tokens, dataset.output_start, np.full(batch_size, row),
                    batch_size=batch_size, max_new_tokens=max_new_tokens)


def _check_args(dataset: Any, batch_size: int, num_samples: int, temperature: float,
                limit: int | None, latency_programs: int) -> None:
    if len(dataset.lengths) == 0:
        raise ValueError("cannot evaluate an empty dataset")
    # The rules of the evaluation settings are EvalConfig's (ValueError naming the setting).
    EvalConfig(batch_size=batch_size, num_samples=num_samples, temperature=temperature, limit=limit,
               latency_programs=latency_programs)


def evaluate_model(model: nnx.Module, dataset: Any, tokenizer: Any, vocab: Any, **options: Any) -> dict[str, Any]:
    """The metrics of evaluate_split (same arguments), for callers that need no predictions."""
    return evaluate_split(model, dataset, tokenizer, vocab, **options).metrics


def evaluate_split(model: nnx.Module, dataset: Any, tokenizer: Any, vocab: Any, *,
                   records: Sequence[Mapping[str, Any]] | None = None, batch_size: int = 32,
                   max_new_tokens: int | None = None, num_samples: int = 10, temperature: float = 0.8,
                   seed: int = 0, limit: int | None = None, latency_programs: int = 32,
                   progress: bool = True, targets: str = "output") -> Evaluation:
    """Every metric of jaxlua.eval.metrics for `model` on an EncodedDataset, overall and in "per_level", plus
    "per_construct" (exact match per construct group), and the greedy prediction of every program.

    records: the split's records (matched by id). With them, exact_match compares against the true stdout,
    latency starts from the source text and programs are grouped by construct; without them the reference
    text is the tokenizer's decoding of the reference tokens, and latency and per_construct are skipped.
    num_samples: outputs sampled per program at `temperature` for pass@k (k in 1, 5, 10 with
    k <= num_samples); 0 makes pass@1 the greedy exact match. max_new_tokens defaults to max_len - 1, i.e. each
    row stops only at EOS or when it fills max_len. The caller's model is not modified (decoding uses an
    eval-mode view of it).
    targets: what the model was trained to write ("output", or "trace_output": the trace, `<OUT>`, the output).
    With trace targets the whole target is decoded, split with `split_target`, and every metric is computed on
    the output part alone (perplexity: the output tokens given the true trace); `trace_exact_match` adds the
    share of programs whose predicted trace tokens equal the reference ones.
    """
    _check_args(dataset, batch_size, num_samples, temperature, limit, latency_programs)
    TARGETS.check(targets)
    traced = targets == "trace_output"
    tokenizer = target_tokenizer(tokenizer, targets)  # decode_output reads the output part of a target
    max_len = int(dataset.tokens.shape[1])
    max_new_tokens = max_len - 1 if max_new_tokens is None else int(max_new_tokens)
    n = len(dataset.lengths) if limit is None else min(limit, len(dataset.lengths))
    rows = np.arange(n)
    decoder = Decoder(model, eos_id=vocab.eos_id, pad_id=vocab.pad_id, max_len=max_len)
    by_id = None if records is None else {str(r["id"]): r for r in records}
    if by_id is not None:
        missing = [i for i in dataset.ids[:n] if str(i) not in by_id]
        if missing:
            raise ValueError(f"{len(missing)} encoded programs have no record (first: {missing[0]!r})")

    # Reference output ids without EOS (a row truncated to max_len has none; strip_output keeps it whole).
    answer_start = dataset.answer_start if traced else dataset.output_start
    ref_ids = [strip_output(dataset.tokens[r, answer_start[r]:dataset.lengths[r]], vocab.eos_id) for r in rows]
    ref_tokens = [vocab.decode(ids) for ids in ref_ids]
    if by_id is not None:
        ref_texts = [by_id[str(dataset.ids[r])]["stdout"] for r in rows]
    else:
        logging.warning("no records given: exact_match compares against the tokenizer's decoding of the reference")
        ref_texts = [tokenizer.decode_output(tokens) for tokens in ref_tokens]

    _warm_up(decoder, dataset, rows, batch_size, max_new_tokens)
    start = time.perf_counter()
    greedy_ids = decode_rows(decoder, dataset.tokens, dataset.output_start, rows, batch_size=batch_size,
                             max_new_tokens=max_new_tokens, progress="greedy decode" if progress else None)
    greedy_texts = [output_text(tokenizer, vocab, ids) for ids in greedy_ids]
    greedy_seconds = time.perf_counter() - start

    sample_texts: list[list[str | None]] | None = None
    if num_samples > 0:
        sample_rows = np.repeat(rows, num_samples)
        sampled = decode_rows(decoder, dataset.tokens, dataset.output_start, sample_rows, batch_size=batch_size,
                              max_new_tokens=max_new_tokens, temperature=temperature, key=jax.random.key(seed),
                              progress=f"sample x{num_samples}" if progress else None)
        texts = [output_text(tokenizer, vocab, ids) for ids in sampled]
        sample_texts = [texts[i * num_samples:(i + 1) * num_samples] for i in range(n)]

    nll_sum, n_tokens = score_rows(decoder, dataset.tokens[:n], dataset.lengths[:n], answer_start[:n],
                                   batch_size=batch_size, progress="perplexity" if progress else None)

    unk = [M.count_unk(dataset.tokens[r, :dataset.lengths[r]], vocab.unk_id) for r in rows]
    greedy_parts = [tokenizer.split_target(vocab.decode(ids)) if traced else ([], vocab.decode(ids))
                    for ids in greedy_ids]  # (trace, output) tokens
    per_program = [
        M.score_program(greedy_texts[i], ref_texts[i], greedy_parts[i][1], ref_tokens[i],
                        None if sample_texts is None else sample_texts[i], nll_sum[i], n_tokens[i], unk[i])
        for i in range(n)
    ]
    levels = [int(level) for level in dataset.level[:n]]
    result = M.aggregate(per_program, levels)
    result["targets"] = targets
    if traced:  # the reference trace runs from the target's start to its <OUT>
        ref_traces = [vocab.decode(dataset.tokens[r, dataset.output_start[r]:answer_start[r] - 1]) for r in rows]
        result["trace_exact_match"] = float(np.mean([greedy_parts[i][0] == ref_traces[i] for i in range(n)]))
    warning = M.unk_warning(result["unk_programs"], result["unk_tokens"], n)
    if warning:
        logging.warning(warning)
    result["programs_per_s"] = n / greedy_seconds
    result["num_undecodable"] = sum(text is None for text in greedy_texts)
    program_records = None if by_id is None else [by_id[str(dataset.ids[r])] for r in rows]
    predictions = _predictions(program_records, [str(i) for i in dataset.ids[:n]], levels, ref_texts,
                               greedy_texts, [row["exact_match"] for row in per_program])
    if program_records is not None:
        result["per_construct"] = C.per_construct([p["exact_match"] for p in predictions],
                                                  [p["construct_groups"] for p in predictions])
    if program_records is not None and latency_programs > 0:
        _add_latency(result, decoder, tokenizer, vocab, program_records, levels, latency_programs,
                     max_new_tokens, seed)
    result["device"] = device_info()
    result["settings"] = {"batch_size": batch_size, "max_new_tokens": max_new_tokens, "num_samples": num_samples,
                          "temperature": temperature, "seed": seed, "limit": limit, "max_len": max_len,
                          "targets": targets,
                          "perplexity_tokens": ("output tokens after <OUT> given the true trace, EOS included"
                                                if traced else "output tokens output_start..lengths-1, EOS included")}
    return Evaluation(result, predictions)


def _predictions(records: Sequence[Mapping[str, Any]] | None, ids: Sequence[str], levels: Sequence[int],
                 ref_texts: Sequence[str], pred_texts: Sequence[str | None],
                 exact_matches: Sequence[float]) -> list[dict[str, Any]]:
    """One PREDICTION_KEYS dict per program; source and constructs are None when there are no records."""
    predictions = []
    for i, program_id in enumerate(ids):
        source = None if records is None else records[i]["source"]
        fine = None if source is None else C.program_constructs(source)
        predictions.append({
            "id": program_id, "level": levels[i], "source": source, "stdout": ref_texts[i],
            "predicted_stdout": pred_texts[i], "exact_match": bool(exact_matches[i]), "constructs": fine,
            "construct_groups": None if fine is None else C.construct_groups(fine, ref_texts[i]),
        })
    return predictions


def _add_latency(result: dict, decoder: Decoder, tokenizer: Any, vocab: Any, records: Sequence[Mapping],
                 levels: Sequence[int], latency_programs: int, max_new_tokens: int, seed: int) -> None:
    """latency_ms_p50/p95 overall (and per level) over a seeded sample of programs, batch 1."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.permutation(len(records))[:latency_programs])
    seconds = measure_latency(decoder, tokenizer, vocab, [records[i]["source"] for i in sample],
                              max_new_tokens=max_new_tokens)
    result["latency_ms_p50"] = M.percentile_ms(seconds, 50)
    result["latency_ms_p95"] = M.percentile_ms(seconds, 95)
    result["latency_programs"] = len(seconds)
    for level, summary in result["per_level"].items():
        level_seconds = [s for i, s in zip(sample, seconds) if levels[i] == int(level)]
        if level_seconds:
            summary["latency_ms_p50"] = M.percentile_ms(level_seconds, 50)
            summary["latency_ms_p95"] = M.percentile_ms(level_seconds, 95)


TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("N", "num_programs"), ("EM", "exact_match"), ("TokEM", "token_exact_match"), ("F1", "f1"),
    ("SS", "sentence_similarity"), ("P@1", "pass_at_1"), ("P@5", "pass_at_5"), ("P@10", "pass_at_10"),
    ("Perp", "perplexity"), ("Rcl", "recall"), ("Prs", "precision"),
    ("p50 ms", "latency_ms_p50"), ("p95 ms", "latency_ms_p95"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def format_metrics_table(metrics: Mapping[str, Any]) -> str:
    """Markdown table shaped like the dissertation's Table 6.3 (plus latency): overall, then one row per level."""
    columns = [(name, key) for name, key in TABLE_COLUMNS
               if key in metrics or any(key in s for s in metrics.get("per_level", {}).values())]
    rows = [("all", metrics)] + [(f"level {lvl}", s) for lvl, s in metrics.get("per_level", {}).items()]
    lines = ["| split | " + " | ".join(name for name, _ in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    lines += ["| " + label + " | " + " | ".join(_cell(s.get(key)) for _, key in columns) + " |"
              for label, s in rows]
    if any(s["n"] for s in metrics.get("per_construct", {}).values()):
        lines += ["", C.format_construct_table(metrics["per_construct"])]
    footer = []
    if "programs_per_s" in metrics:
        footer.append(f"{metrics['programs_per_s']:.1f} programs/s batched")
    device = metrics.get("device")
    if device:
        footer.append(f"device: {device.get('device_kind')} ({device.get('platform')}), "
                      f"jax {device.get('jax_version')}")
    return "\n".join(lines + ([""] + ["; ".join(footer)] if footer else []))


def write_metrics(workdir: str | pathlib.Path, metrics: Mapping[str, Any],
                  filename: str = METRICS_FILE) -> pathlib.Path:
    """Write metrics as JSON to workdir/metrics.json (or `filename`), creating workdir; returns the path."""
    path = pathlib.Path(workdir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, json.dumps(metrics, indent=2) + "\n")


def write_predictions(workdir: str | pathlib.Path, predictions: Sequence[Mapping[str, Any]],
                      metrics_filename: str = METRICS_FILE) -> pathlib.Path:
    """Write one JSON line per program to the predictions file beside `metrics_filename` (atomically, creating
    workdir); returns the path."""
    path = pathlib.Path(workdir) / predictions_filename(metrics_filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(dict(p)) + "\n" for p in predictions)
    return atomic_write_text(path, text)
