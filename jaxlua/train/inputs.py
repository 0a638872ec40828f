"""From a dataset directory to the encoded arrays a run trains on: tokenizer, train-only vocabulary, splits.

The vocabulary is built from the train split alone (validation and test tokens unseen in training map to
`<UNK>`), and a resumed run reuses the vocabulary saved in its workdir so the ids cannot shift. Data a run
cannot use (a split that is missing, unreadable or empty, or none of whose programs fits max_len) raises
FileNotFoundError or `jaxlua.data.splits.DatasetError` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from absl import logging

from jaxlua.config import TokenizerConfig, TrainConfig


@dataclasses.dataclass
class PreparedData:
    """Everything the loop and the evaluator need from the dataset."""

    tokenizer: Any
    vocab: Any
    train: Any  # EncodedDataset
    val: Any
    test: Any
    test_records: list[dict]
    info: dict[str, Any]  # fingerprint and sizes, saved as dataset.json beside the checkpoints


def resolve_data_dir(data_dir: str | None) -> pathlib.Path:
    """`data_dir`, or the built-in dataset (built on first use) when it is None or empty."""
    from jaxlua.data.default import default_dataset_dir  # pylint: disable=import-outside-toplevel

    return pathlib.Path(data_dir).expanduser() if data_dir else default_dataset_dir()


def make_tokenizer(config: TokenizerConfig) -> Any:
    """The Tokenizer a run's tokenizer settings describe (training, evaluation and prediction all use this)."""
    from jaxlua.tokenize import Tokenizer  # pylint: disable=import-outside-toplevel

    return Tokenizer(config.mode, identifiers=config.identifier_style, digits=config.digits,
                     program_copies=config.program_copies)


def build_vocabulary(records: list[dict], tokenizer: Any, traces: bool = False) -> Any:
    """The tokenizer's vocabulary (its reserved tokens, its settings recorded) over the program and output
    tokens of `records` (and, with `traces`, their trace tokens, the trace separators reserved); programs that
    do not parse are skipped."""
    from jaxlua.tokenize import LuaSyntaxError  # pylint: disable=import-outside-toplevel

    def token_lists():
        for record in records:
            try:
                yield tokenizer.program_tokens(record["source"])
            except LuaSyntaxError:
                continue
            yield tokenizer.output_tokens(record["stdout"])
            if traces:
                yield tokenizer.trace_tokens(record["trace"], record["source"])

    return tokenizer.build_vocabulary(token_lists(), traces=traces)


def shortest_sequence(records: list[dict], tokenizer: Any) -> int | None:
    """Length of the shortest encoded sequence (BOS program SEP output EOS) among `records`, None when no
    program parses. Tokenizes every record: call it on the error path only."""
    from jaxlua.tokenize import LuaSyntaxError  # pylint: disable=import-outside-toplevel

    shortest = None
    for record in records:
        try:
            program = tokenizer.program_tokens(record["source"])
        except LuaSyntaxError:
            continue
        length = len(program) + len(tokenizer.output_tokens(record["stdout"])) + 3
        shortest = length if shortest is None else min(shortest, length)
    return shortest


def nothing_fits_message(split: str, report: dict[str, int], max_len: int, shortest: int | None) -> str:
    """One line saying why no program of `split` survived encoding: how many were dropped and for what, and the
    max_len that would keep at least one."""
    reasons = [f"{report[key]} {what}" for key, what in (
        ("dropped_too_long", "too long"), ("dropped_program_too_long", "with a program alone too long"),
        ("dropped_syntax_error", "that do not parse")) if report.get(key)]
    dropped = f"all {report.get('total', 0)} programs were dropped ({', '.join(reasons) or 'none kept'})"
    if shortest is None:
        return f"no {split} program fits max_len={max_len}: {dropped}; no program parses"
    return (f"no {split} program fits max_len={max_len}: {dropped}; the shortest sequence is {shortest} "
            f"tokens, so use --max_len >= {shortest}")


def load_records(data_dir: pathlib.Path, split: str) -> list[dict]:
    """Records of one split: FileNotFoundError when its file is missing, DatasetError when it cannot be read or
    holds no program."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data import load_split
    from jaxlua.data.splits import DatasetError, split_path

    records = load_split(data_dir, split)
    if not records:
        raise DatasetError(f"{split_path(data_dir, split)} holds no program; rebuild the dataset with "
                           "experiments.make_dataset")
    return records


def check_fits(split: str, records: list[dict], encoded: Any, tokenizer: Any, max_len: int) -> None:
    """DatasetError (one line: programs dropped, shortest sequence) when no record of `split` survived
    encoding at `max_len`."""
    from jaxlua.data.splits import DatasetError  # pylint: disable=import-outside-toplevel

    if len(encoded) == 0:
        raise DatasetError(nothing_fits_message(split, encoded.report, max_len, shortest_sequence(records, tokenizer)))


def encode_split(records: list[dict], config: TrainConfig, tokenizer: Any, vocab: Any, where: str,
                 cache_dir: pathlib.Path | None = None) -> Any:
    """`records` encoded for `config` (its max_len and targets); with trace targets, DatasetError (one line
    naming `where`) when a record has no trace."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data.traces import require_traces
    from jaxlua.tokenize import encode_dataset

    if config.targets == "trace_output":
        require_traces(records, where)
    return encode_dataset(records, tokenizer, vocab, config.model.max_len, cache_dir=cache_dir,
                          targets=config.targets)


def prepare_data(
    config: TrainConfig,
    data_dir: pathlib.Path,
    vocab_path: pathlib.Path | None = None,
    cache_dir: pathlib.Path | None = None,
) -> PreparedData:
    """Loads the three splits, builds (or reloads from `vocab_path`) the vocabulary and encodes every split."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data import dataset_fingerprint
    from jaxlua.data.traces import require_traces
    from jaxlua.data.splits import split_path

    tokenizer = make_tokenizer(config.tokenizer)
    records = {split: load_records(data_dir, split) for split in ("train", "val", "test")}
    traces = config.targets == "trace_output"
    if traces:  # before the vocabulary, which reads the traces
        for split, rows in records.items():
            require_traces(rows, str(split_path(data_dir, split)))
    if vocab_path is not None and vocab_path.exists():
        vocab = tokenizer.load_vocabulary(vocab_path)
        logging.info("reusing the vocabulary of the run (%d tokens) from %s", len(vocab), vocab_path)
    else:
        vocab = build_vocabulary(records["train"], tokenizer, traces=traces)
        logging.info("built a vocabulary of %d tokens from %d train programs", len(vocab), len(records["train"]))
    encoded = {
        split: encode_split(rows, config, tokenizer, vocab, str(split_path(data_dir, split)), cache_dir)
        for split, rows in records.items()
    }
    info = {
        "fingerprint": dataset_fingerprint(data_dir),
        "data_dir": str(data_dir),
        "tokenizer": config.tokenizer.to_dict(),
        "targets": config.targets,
        "max_len": config.model.max_len,
        "vocab_size": len(vocab),
        "sizes": {split: len(ds) for split, ds in encoded.items()},
        "encode_reports": {split: ds.report for split, ds in encoded.items()},
    }
    for split, ds in encoded.items():
        check_fits(split, records[split], ds, tokenizer, config.model.max_len)
    return PreparedData(tokenizer, vocab, encoded["train"], encoded["val"], encoded["test"], records["test"], info)
