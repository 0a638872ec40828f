"""What a run trains and evaluates on, opened from its `TrainConfig`: a fixed dataset's encoded splits, or the
program stream.

`open_run_data(config, workdir)` is a context manager yielding `PreparedData`. For a fixed dataset its splits are
encoded arrays and the vocabulary is built from the train split alone (validation and test tokens unseen in
training map to `<UNK>`). With `config.stream` its `train` is the open `ProgramStream` (worker processes that live
as long as the `with` block; the train side wraps it into its batch source), its vocabulary is the stream's, its
`val` and `test` are the stream's fixed seeded held-out sets, and the stream keeps its key log in the run's state
folder so a resumed run regenerates nothing. Either way a resumed run reuses the vocabulary saved in its workdir,
so the ids cannot shift. `stream_config` is the one mapping from a run's settings to the stream's.

The data of an evaluation after training comes from here too: `eval_split` opens a split of the run's own
dataset, another dataset, or a stream run's regenerated held-out set.

Data a run cannot use (a split that is missing, unreadable or empty, or none of whose programs fits max_len)
raises FileNotFoundError or `jaxlua.data.splits.DatasetError` with a one-line message. NumPy side: no JAX.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import pathlib
from typing import Any, Iterator

from absl import logging

from jaxlua.config import TokenizerConfig, TrainConfig
from jaxlua.data.default import default_dataset_dir
from jaxlua.data.splits import SPLITS, DatasetError, dataset_fingerprint, load_split, split_path
from jaxlua.data.stream import ProgramStream, StreamConfig, default_stream_workers, open_stream, token_lists
from jaxlua.data.stream_exchange import SlotExchange
from jaxlua.data.stream_mix import initial_mix
from jaxlua.data.traces import require_traces
from jaxlua.lua.generator import GeneratorConfig
from jaxlua.tokenize import EncodedDataset, LuaSyntaxError, Tokenizer, Vocabulary, encode_dataset
from jaxlua.tokenize.trace_tokens import DEFAULT_MAX_TRACE_TOKENS
from jaxlua.workdir_files import DATASET_FILE, VOCAB_FILE

HELDOUT_SPLITS = ("val", "test")  # a stream's fixed sets


class SplitError(ValueError):
    """A split the run's data does not have (one line naming the ones it has)."""


@dataclasses.dataclass
class PreparedData:
    """Everything the loop and the evaluator need from a run's data."""

    tokenizer: Tokenizer
    vocab: Vocabulary
    train: EncodedDataset | ProgramStream  # the stream with `TrainConfig.stream`
    val: EncodedDataset
    test: EncodedDataset
    test_records: list[dict]
    info: dict[str, Any]  # fingerprint and sizes, saved as DATASET_FILE beside the checkpoints


@dataclasses.dataclass
class EvalSplit:
    """The programs a trained run is evaluated on, encoded with its tokenizer, vocabulary and max_len."""

    records: list[dict]
    dataset: EncodedDataset
    source: str  # the dataset folder, or "stream:<levels>" for a stream's regenerated held-out set
    fingerprint: str | None
    other_dataset: str | None  # None for the run's own data; else "<folder name>-<fingerprint prefix>"


def resolve_data_dir(data_dir: str | None) -> pathlib.Path:
    """`data_dir`, or the built-in dataset (built on first use) when it is None or empty."""
    return pathlib.Path(data_dir).expanduser() if data_dir else default_dataset_dir()


def make_tokenizer(config: TokenizerConfig) -> Tokenizer:
    """The Tokenizer a run's tokenizer settings describe (training, evaluation and prediction all use this)."""
    return Tokenizer(config.mode, identifiers=config.identifier_style, digits=config.digits,
                     program_copies=config.program_copies)


def build_vocabulary(records: list[dict], tokenizer: Tokenizer, traces: bool = False) -> Vocabulary:
    """The tokenizer's vocabulary (its reserved tokens, its settings recorded) over the program and output
    tokens of `records` (and, with `traces`, their trace tokens, the trace separators reserved); programs that
    do not parse are skipped."""
    return tokenizer.build_vocabulary(token_lists(tokenizer, records, traces), traces=traces)


def shortest_sequence(records: list[dict], tokenizer: Tokenizer) -> int | None:
    """Length of the shortest encoded sequence (BOS program SEP output EOS) among `records`, None when no
    program parses. Tokenizes every record: call it on the error path only."""
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
    records = load_split(data_dir, split)
    if not records:
        raise DatasetError(f"{split_path(data_dir, split)} holds no program; rebuild the dataset with "
                           "experiments.make_dataset")
    return records


def check_fits(split: str, records: list[dict], encoded: EncodedDataset, tokenizer: Tokenizer,
               max_len: int) -> None:
    """DatasetError (one line: programs dropped, shortest sequence) when no record of `split` survived
    encoding at `max_len`."""
    if len(encoded) == 0:
        raise DatasetError(nothing_fits_message(split, encoded.report, max_len, shortest_sequence(records, tokenizer)))


def encode_split(records: list[dict], config: TrainConfig, tokenizer: Tokenizer, vocab: Vocabulary, where: str,
                 cache_dir: pathlib.Path | None = None) -> EncodedDataset:
    """`records` encoded for `config` (its max_len and targets); with trace targets, DatasetError (one line
    naming `where`) when a record has no trace."""
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
    tokenizer = make_tokenizer(config.tokenizer)
    records = {split: load_records(data_dir, split) for split in SPLITS}
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


def stream_config(config: TrainConfig) -> StreamConfig:
    """The `StreamConfig` a run's settings describe: the one mapping from `TrainConfig` to the stream."""
    mix = initial_mix(len(config.stream_levels), config.mastery_start) if config.curriculum == "mastery" else ()
    return StreamConfig(levels=config.stream_levels, seed=config.seed, batch_size=config.batch_size,
                        max_len=config.model.max_len, num_buckets=config.num_buckets,
                        heldout_per_level=config.heldout_per_level, initial_mix=mix, targets=config.targets,
                        workers=config.stream_workers or default_stream_workers())


def open_stream_for(config: TrainConfig, vocab: Vocabulary | None = None, state_dir: pathlib.Path | None = None,
                    progress: bool = True, exchange: SlotExchange | None = None) -> ProgramStream:
    """An open `ProgramStream` for a run's settings (the caller closes it); `exchange`: shared by the processes of
    a multi-process run (`jaxlua.data.stream.open_stream`)."""
    return open_stream(stream_config(config), make_tokenizer(config.tokenizer), vocab=vocab, state_dir=state_dir,
                       progress=progress, exchange=exchange)


def stream_fingerprint(stream: ProgramStream) -> str:
    """What identifies a stream's data: its program settings and its held-out sets (compared on resume)."""
    text = json.dumps([stream.program_settings(), stream.info["heldout_fingerprint"]], sort_keys=True)
    return "stream-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def saved_vocabulary(config: TrainConfig, workdir: pathlib.Path) -> Vocabulary | None:
    """The vocabulary a run saved in `workdir`, or None when there is none yet."""
    path = workdir / VOCAB_FILE
    if not path.exists():
        return None
    vocab = make_tokenizer(config.tokenizer).load_vocabulary(path)
    logging.info("reusing the vocabulary of the run (%d tokens) from %s", len(vocab), path)
    return vocab


@contextlib.contextmanager
def stream_data(config: TrainConfig, workdir: pathlib.Path, state_dir: pathlib.Path, progress: bool = True,
                exchange: SlotExchange | None = None) -> Iterator[PreparedData]:
    """The stream's data for a training run in `workdir`, its key log in `state_dir` (see the module doc); the
    workers end with the block."""
    with open_stream_for(config, saved_vocabulary(config, workdir), state_dir, progress, exchange) as stream:
        info = {**stream.info, "fingerprint": stream_fingerprint(stream), "tokenizer": config.tokenizer.to_dict(),
                "max_len": config.model.max_len}
        yield PreparedData(stream.tokenizer, stream.vocab, stream, stream.val, stream.test, stream.test_records,
                           info)


@contextlib.contextmanager
def open_run_data(config: TrainConfig, workdir: pathlib.Path, cache_dir: pathlib.Path | None = None,
                  progress: bool = True, state_dir: pathlib.Path | None = None,
                  exchange: SlotExchange | None = None) -> Iterator[PreparedData]:
    """A run's data for the length of a `with` block: the stream with `config.stream`, else the dataset's splits
    (`prepare_data`, vocabulary saved in or reloaded from the workdir).

    `state_dir`: where the stream keeps its key log; default the workdir, as for a one-process run (past one
    process each process passes its own, `jaxlua.train.distributed.stream_state_dir`). `exchange`: past one
    process, the processes' shared exchange, so each generates only its share of the stream.
    """
    if config.stream:
        with stream_data(config, workdir, workdir if state_dir is None else state_dir, progress, exchange) as data:
            yield data
    else:
        yield prepare_data(config, resolve_data_dir(config.data_dir), vocab_path=workdir / VOCAB_FILE,
                           cache_dir=cache_dir)


def stream_heldout(config: TrainConfig, vocab: Vocabulary, split: str,
                   progress: bool = True) -> tuple[list[dict], EncodedDataset]:
    """(records, encoded dataset) of a stream run's fixed `split` ("val" or "test"), regenerated from its seed."""
    if split not in HELDOUT_SPLITS:
        raise SplitError(f"a stream run has no fixed {split} split; use one of {', '.join(HELDOUT_SPLITS)}")
    with open_stream_for(config, vocab, progress=progress) as stream:
        return (stream.val_records, stream.val) if split == "val" else (stream.test_records, stream.test)


def eval_split(config: TrainConfig, tokenizer: Tokenizer, vocab: Vocabulary, split: str, workdir: pathlib.Path,
               data_dir: pathlib.Path | None = None, cache_dir: pathlib.Path | None = None,
               progress: bool = True) -> EvalSplit:
    """`split` ("train", "val", "test", or "all": the three together) of `data_dir`, else of the run's own data:
    the dataset it trained on, or for a stream run its fixed held-out set regenerated from the seed (SplitError
    for a split it has not). The data is the run's own when its fingerprint is that of the run's dataset; else
    `other_dataset` names it."""
    if config.stream and data_dir is None:
        records, dataset = stream_heldout(config, vocab, split, progress)
        saved = json.loads((workdir / DATASET_FILE).read_text(encoding="utf-8"))
        return EvalSplit(records, dataset, f"stream:{config.levels}", saved.get("fingerprint"), None)
    own_dir = None if config.stream else resolve_data_dir(config.data_dir)
    data_dir = data_dir or own_dir
    records = ([r for name in SPLITS for r in load_split(data_dir, name)] if split == "all"
               else load_records(data_dir, split))
    if not records:
        raise DatasetError(f"{data_dir} holds no program in any split; rebuild it with experiments.make_dataset")
    fingerprint = dataset_fingerprint(data_dir)
    try:
        own = own_dir is not None and fingerprint == dataset_fingerprint(own_dir)
    except FileNotFoundError:  # the run's own dataset is gone: `data_dir` is another one
        own = False
    dataset = encode_split(records, config, tokenizer, vocab, f"{data_dir} ({split})", cache_dir=cache_dir)
    check_fits(split, records, dataset, tokenizer, config.model.max_len)
    return EvalSplit(records, dataset, str(data_dir), fingerprint,
                     None if own else f"{data_dir.resolve().name}-{fingerprint[:8]}")


def longest_target(targets: str, generator: GeneratorConfig | None = None) -> int:
    """The most target tokens a streamed program can have: its output, capped by `generator` (default: the
    stream's) at one character a token, then EOS; with trace targets a trace of at most DEFAULT_MAX_TRACE_TOKENS
    tokens, <TRACE_CUT> and <OUT> come first. The stream's loss window and greedy decoding of its programs stop
    there."""
    output = (generator or GeneratorConfig()).max_output_chars + 1
    return output + (DEFAULT_MAX_TRACE_TOKENS + 2 if targets == "trace_output" else 0)
