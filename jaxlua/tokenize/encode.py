"""Records -> fixed-shape int32 arrays `BOS program SEP target EOS PAD...`, cached on disk as .npz.

The target is the output, or (`targets="trace_output"`, records with a `trace` field) the execution trace,
`<OUT>`, then the output.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
from collections.abc import Sequence

import numpy as np
from absl import logging

from jaxlua.config import TARGETS as _TARGET_REGISTRY
from jaxlua.tokenize.errors import LuaSyntaxError
from jaxlua.tokenize.tokenizer import Tokenizer
from jaxlua.tokenize.trace_tokens import DEFAULT_MAX_TRACE_TOKENS
from jaxlua.tokenize.vocabulary import OUT, Vocabulary

OVERFLOW_POLICIES = ("drop", "truncate")
TARGETS = _TARGET_REGISTRY.names()
_CACHE_VERSION = "encode/4"  # 4: the closed identifier styles write string text beyond ASCII as bytes


@dataclasses.dataclass
class EncodedDataset:
    """Encoded records. `tokens[i, :lengths[i]]` is valid; the target (the loss) starts at `output_start[i]`,
    the output itself at `answer_start[i]` (after `<OUT>` for trace targets, else `== output_start[i]`)."""

    tokens: np.ndarray  # int32 [N, max_len]
    lengths: np.ndarray  # int32 [N], EOS included
    output_start: np.ndarray  # int32 [N], index of the first output token (SEP index + 1)
    level: np.ndarray  # int32 [N]
    ids: list[str]
    report: dict
    answer_start: np.ndarray | None = None  # int32 [N]; None is read as output_start

    def __post_init__(self) -> None:
        if self.answer_start is None:
            self.answer_start = self.output_start

    def __len__(self) -> int:
        return int(self.tokens.shape[0])


def _cache_key(records: Sequence[dict], tokenizer: Tokenizer, vocab: Vocabulary, max_len: int,
               overflow: str, targets: str, max_trace_tokens: int) -> str:
    """Hash of everything the arrays depend on, the tokenizer's settings included."""
    digest = hashlib.sha256()
    options = [_CACHE_VERSION, tokenizer.settings(), max_len, overflow]
    if targets != "output":
        options += [targets, max_trace_tokens]
    digest.update(json.dumps(options, sort_keys=True).encode())
    digest.update(json.dumps(vocab.tokens, ensure_ascii=True).encode())
    for record in records:
        fields = [record.get("id"), record["source"], record["stdout"], record.get("level")]
        if targets != "output":
            fields += [_trace_json(record["trace"]), bool(record.get("trace_truncated"))]
        digest.update(json.dumps(fields, ensure_ascii=True).encode())
    return digest.hexdigest()[:24]


def _trace_json(trace) -> list:
    """A trace in JSON form for hashing: [[line, [[name, value], ...]], ...]."""
    out = []
    for step in trace:
        if isinstance(step, dict):
            out.append([step.get("line"), step.get("changes")])
        elif isinstance(step, (list, tuple)):
            out.append(list(step))
        else:
            out.append([getattr(step, "line", None), getattr(step, "changes", None)])
    return out


def _check_record(index: int, record: dict, targets: str) -> None:
    if not isinstance(record, dict):
        raise TypeError(f"record {index} is a {type(record).__name__}, expected a dict")
    for field in ("source", "stdout"):
        if not isinstance(record.get(field), str):
            raise ValueError(f"record {index} ({record.get('id', '?')}) has no string field {field!r}")
    if targets == "trace_output" and not isinstance(record.get("trace"), (list, tuple)):
        raise ValueError(f"record {index} ({record.get('id', '?')}) has no trace (a list of steps); "
                         f"targets='trace_output' needs records made with traces")


def _load_cache(path: pathlib.Path) -> EncodedDataset | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return EncodedDataset(
                tokens=data["tokens"], lengths=data["lengths"], output_start=data["output_start"],
                level=data["level"], ids=[str(x) for x in data["ids"]],
                report=json.loads(str(data["report"])),
                answer_start=data["answer_start"] if "answer_start" in data.files else None)
    except (OSError, KeyError, ValueError) as exc:
        logging.warning("ignoring unreadable encoding cache %s: %s", path, exc)
        return None


def _save_cache(path: pathlib.Path, ds: EncodedDataset) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, tokens=ds.tokens, lengths=ds.lengths, output_start=ds.output_start, level=ds.level,
             ids=np.array(ds.ids, dtype=str), report=np.array(json.dumps(ds.report)),
             answer_start=ds.answer_start)
    os.replace(tmp, path)


def encode_dataset(records: Sequence[dict], tokenizer: Tokenizer, vocab: Vocabulary, max_len: int,
                   cache_dir: str | os.PathLike | None = None, overflow: str = "drop", targets: str = "output",
                   max_trace_tokens: int = DEFAULT_MAX_TRACE_TOKENS) -> EncodedDataset:
    """Tokenize and encode `records` into padded int32 arrays.

    A record whose sequence is longer than `max_len` is dropped (`overflow="drop"`) or has its output cut
    (`"truncate"`: no EOS, `lengths == max_len`); one whose program alone does not fit, or that does not
    parse, is always dropped. `targets="trace_output"` writes each record's `trace` (at most
    `max_trace_tokens` tokens, and no more than the program and output leave room for within `max_len`, so the
    same records are kept as with output targets whenever two tokens are spare; `<TRACE_CUT>` when cut here or
    `trace_truncated` is set), `<OUT>`, then the output. `report` counts kept / truncated / dropped records by
    reason. With `cache_dir`, the result is stored under a hash of (records, tokenizer settings, vocabulary,
    max_len, overflow, targets) and reused on the next call, so every option change re-encodes.
    """
    if max_len < 4:
        raise ValueError(f"max_len must be >= 4 (BOS, a token, SEP, EOS), got {max_len}")
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    records = list(records)
    for index, record in enumerate(records):
        _check_record(index, record, targets)
    cache_path = None
    if cache_dir is not None:
        key = _cache_key(records, tokenizer, vocab, max_len, overflow, targets, max_trace_tokens)
        cache_path = pathlib.Path(cache_dir) / f"encoded-{tokenizer.mode}-{key}.npz"
        if cache_path.exists():
            cached = _load_cache(cache_path)
            if cached is not None:
                logging.info("encode_dataset: loaded %d records from cache %s", len(cached), cache_path)
                return cached

    tokens = np.full((len(records), max_len), vocab.pad_id, dtype=np.int32)
    lengths = np.zeros(len(records), dtype=np.int32)
    output_start = np.zeros(len(records), dtype=np.int32)
    answer_start = np.zeros(len(records), dtype=np.int32)
    level = np.zeros(len(records), dtype=np.int32)
    ids: list[str] = []
    report = {"total": len(records), "kept": 0, "truncated": 0, "dropped_too_long": 0,
              "dropped_program_too_long": 0, "dropped_syntax_error": 0}
    row = 0
    for index, record in enumerate(_progress(records)):
        try:
            program = tokenizer.program_tokens(record["source"])
        except LuaSyntaxError as exc:
            report["dropped_syntax_error"] += 1
            logging.debug("dropping record %s: %s", record.get("id", index), exc)
            continue
        output = tokenizer.output_tokens(record["stdout"])
        program_ids = vocab.encode(program)
        sep = 1 + len(program_ids)
        trace: list[str] = []
        if targets == "trace_output":  # the trace takes the room the output leaves, cut at a step if need be
            room = max_len - (sep + 1 + len(output) + 1) - 1  # less SEP..., the output, EOS and <OUT>
            trace = tokenizer.trace_tokens(record["trace"], record["source"], max(1, min(max_trace_tokens, room)),
                                           cut=bool(record.get("trace_truncated")))
            trace.append(OUT)
        if sep + 2 > max_len:  # BOS program SEP, at least one output slot
            report["dropped_program_too_long"] += 1
            continue
        sequence = [vocab.bos_id, *program_ids, vocab.sep_id, *vocab.encode(trace), *vocab.encode(output),
                    vocab.eos_id]
        if len(sequence) > max_len:
            if overflow == "drop":
                report["dropped_too_long"] += 1
                continue
            sequence = sequence[:max_len]
            report["truncated"] += 1
        else:
            report["kept"] += 1
        tokens[row, :len(sequence)] = sequence
        lengths[row] = len(sequence)
        output_start[row] = sep + 1
        answer_start[row] = sep + 1 + len(trace)
        level[row] = int(record.get("level", 0))
        ids.append(str(record.get("id", index)))
        row += 1
    ds = EncodedDataset(tokens=tokens[:row], lengths=lengths[:row], output_start=output_start[:row],
                        level=level[:row], ids=ids, report=report, answer_start=answer_start[:row])
    logging.info("encode_dataset (%s, targets=%s, max_len=%d): %s", tokenizer, targets, max_len, report)
    if cache_path is not None:
        _save_cache(cache_path, ds)
    return ds


def _progress(records: list[dict]):
    """tqdm bar for large datasets (tokenizing 50k records takes seconds), plain iteration otherwise."""
    if len(records) < 20_000:
        return records
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a declared dependency
        return records
    return tqdm(records, desc="tokenizing", unit="prog", mininterval=1.0)
