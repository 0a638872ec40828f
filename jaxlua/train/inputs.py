"""From a dataset directory to the encoded arrays a run trains on: tokenizer, train-only vocabulary, splits.

The vocabulary is built from the train split alone (validation and test tokens unseen in training map to
`<UNK>`), and a resumed run reuses the vocabulary saved in its workdir so the ids cannot shift.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from absl import logging

from jaxlua.train.config import TrainConfig


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
    from jaxlua.data import default_dataset_dir  # pylint: disable=import-outside-toplevel

    return pathlib.Path(data_dir).expanduser() if data_dir else default_dataset_dir()


def build_vocabulary(records: list[dict], tokenizer: Any) -> Any:
    """Vocabulary over the program and output tokens of `records` (programs that do not parse are skipped)."""
    from jaxlua.tokenize import LuaSyntaxError, Vocabulary  # pylint: disable=import-outside-toplevel

    def token_lists():
        for record in records:
            try:
                yield tokenizer.program_tokens(record["source"])
            except LuaSyntaxError:
                continue
            yield tokenizer.output_tokens(record["stdout"])

    return Vocabulary.build(token_lists())


def prepare_data(
    config: TrainConfig,
    data_dir: pathlib.Path,
    vocab_path: pathlib.Path | None = None,
    cache_dir: pathlib.Path | None = None,
) -> PreparedData:
    """Loads the three splits, builds (or reloads from `vocab_path`) the vocabulary and encodes every split."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.data import dataset_fingerprint, load_split
    from jaxlua.tokenize import Tokenizer, Vocabulary, encode_dataset

    tokenizer = Tokenizer(mode=config.tokenizer_mode)
    records = {split: load_split(data_dir, split) for split in ("train", "val", "test")}
    for split, rows in records.items():
        if not rows:
            raise ValueError(f"the {split} split of {data_dir} is empty")
    if vocab_path is not None and vocab_path.exists():
        vocab = Vocabulary.load(vocab_path)
        logging.info("reusing the vocabulary of the run (%d tokens) from %s", len(vocab), vocab_path)
    else:
        vocab = build_vocabulary(records["train"], tokenizer)
        logging.info("built a vocabulary of %d tokens from %d train programs", len(vocab), len(records["train"]))
    encoded = {
        split: encode_dataset(rows, tokenizer, vocab, config.max_len, cache_dir=cache_dir)
        for split, rows in records.items()
    }
    info = {
        "fingerprint": dataset_fingerprint(data_dir),
        "data_dir": str(data_dir),
        "tokenizer_mode": config.tokenizer_mode,
        "max_len": config.max_len,
        "vocab_size": len(vocab),
        "sizes": {split: len(ds) for split, ds in encoded.items()},
        "encode_reports": {split: ds.report for split, ds in encoded.items()},
    }
    for split, ds in encoded.items():
        if len(ds) == 0:
            raise ValueError(f"no {split} program fits max_len={config.max_len}; raise --max_len")
    return PreparedData(tokenizer, vocab, encoded["train"], encoded["val"], encoded["test"], records["test"], info)
