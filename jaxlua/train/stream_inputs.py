"""The data of a run, opened for its length: a fixed dataset's encoded splits, or the program stream.

`open_run_data(config, workdir)` is a context manager yielding `PreparedData`. With `config.stream` its `train`
is a `StreamSource` over a `ProgramStream` whose worker processes live as long as the `with` block; its
vocabulary is the stream's (built from generated programs; a resumed run reloads the one saved in its
workdir), its `val` and `test` are the stream's fixed seeded held-out sets per level, and the stream keeps its
key log in the workdir so a resumed run regenerates nothing. `stream_heldout` regenerates those held-out sets
for an evaluation after training.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pathlib
from typing import Any, Iterator

from absl import logging

from jaxlua.config import TrainConfig
from jaxlua.train.inputs import PreparedData, make_tokenizer, prepare_data, resolve_data_dir

VOCAB_FILE = "vocab.json"
HELDOUT_SPLITS = ("val", "test")


def stream_config(config: TrainConfig) -> Any:
    """The `jaxlua.data.stream.StreamConfig` a run's settings describe (one place for the mapping)."""
    from jaxlua.data.stream import StreamConfig, default_stream_workers  # pylint: disable=import-outside-toplevel

    from jaxlua.train.mastery import initial_mix  # pylint: disable=import-outside-toplevel

    mix = initial_mix(len(config.stream_levels), config.mastery_start) if config.curriculum == "mastery" else ()
    return StreamConfig(levels=config.stream_levels, seed=config.seed, batch_size=config.batch_size,
                        max_len=config.model.max_len, num_buckets=config.num_buckets,
                        heldout_per_level=config.heldout_per_level, initial_mix=mix,
                        workers=config.stream_workers or default_stream_workers())


def open_stream_for(config: TrainConfig, vocab: Any | None = None, state_dir: pathlib.Path | None = None,
                    progress: bool = True) -> Any:
    """An open `ProgramStream` for a run's settings (the caller closes it)."""
    from jaxlua.data.stream import open_stream  # pylint: disable=import-outside-toplevel

    return open_stream(stream_config(config), make_tokenizer(config.tokenizer), vocab=vocab, state_dir=state_dir,
                       progress=progress)


def stream_fingerprint(stream: Any) -> str:
    """What identifies a stream's data: its program settings and its held-out sets (compared on resume)."""
    text = json.dumps([stream.program_settings(), stream.info["heldout_fingerprint"]], sort_keys=True)
    return "stream-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def saved_vocabulary(config: TrainConfig, workdir: pathlib.Path) -> Any | None:
    """The vocabulary a run saved in `workdir`, or None when there is none yet."""
    path = workdir / VOCAB_FILE
    if not path.exists():
        return None
    vocab = make_tokenizer(config.tokenizer).load_vocabulary(path)
    logging.info("reusing the vocabulary of the run (%d tokens) from %s", len(vocab), path)
    return vocab


@contextlib.contextmanager
def stream_data(config: TrainConfig, workdir: pathlib.Path, progress: bool = True) -> Iterator[PreparedData]:
    """The stream's data for a training run in `workdir` (see the module doc); the workers end with the block."""
    from jaxlua.train.sources import StreamSource  # pylint: disable=import-outside-toplevel

    from jaxlua.train.distributed import stream_state_dir  # pylint: disable=import-outside-toplevel

    with open_stream_for(config, saved_vocabulary(config, workdir), stream_state_dir(workdir), progress) as stream:
        info = {**stream.info, "fingerprint": stream_fingerprint(stream), "tokenizer": config.tokenizer.to_dict(),
                "max_len": config.model.max_len}
        yield PreparedData(stream.tokenizer, stream.vocab, StreamSource(stream, config), stream.val, stream.test,
                           stream.test_records, info)


@contextlib.contextmanager
def open_run_data(config: TrainConfig, workdir: pathlib.Path, cache_dir: pathlib.Path | None = None,
                  progress: bool = True) -> Iterator[PreparedData]:
    """A run's data for the length of a `with` block: the stream with `config.stream`, else the dataset's splits
    (`prepare_data`, vocabulary saved in or reloaded from the workdir)."""
    if config.stream:
        with stream_data(config, workdir, progress) as data:
            yield data
    else:
        yield prepare_data(config, resolve_data_dir(config.data_dir), vocab_path=workdir / VOCAB_FILE,
                           cache_dir=cache_dir)


def stream_heldout(config: TrainConfig, vocab: Any, split: str, progress: bool = True) -> tuple[list[dict], Any]:
    """(records, encoded dataset) of a stream run's fixed `split` ("val" or "test"), regenerated from its seed."""
    if split not in HELDOUT_SPLITS:
        raise ValueError(f"a stream run has no fixed {split} split; use one of {', '.join(HELDOUT_SPLITS)}")
    with open_stream_for(config, vocab, progress=progress) as stream:
        return (stream.val_records, stream.val) if split == "val" else (stream.test_records, stream.test)
