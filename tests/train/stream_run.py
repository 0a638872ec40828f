"""A tiny streamed training run for the resume tests (run as `python -m tests.train.stream_run WORKDIR`).

Trains STREAM_CONFIG on the program stream in WORKDIR (resuming if a checkpoint is there), saves the final
parameters to WORKDIR/final_params.npz and prints {"start_step": ...} as its last line.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

from tests.train.toy_run import flat_params

# Level 4 only, 8 held-out programs per level, one bucket and max_len 64: few batch widths, so few compilations.
# Dropout and the plateau schedule are on, so every piece of resumable state is exercised.
STREAM_CONFIG = dict(
    stream=True,
    levels="4",
    heldout_per_level=8,
    stream_workers=1,
    cell="gru",
    embed_dim=16,
    hidden_dim=32,
    num_layers=1,
    dropout=0.1,
    batch_size=8,
    steps=60,
    lr=3e-3,
    warmup_steps=5,
    schedule="plateau",
    plateau_patience=1,
    eval_interval=10,
    checkpoint_interval=10,
    log_interval=10,
    max_to_keep=2,
    max_len=64,
    num_buckets=1,
    val_max_examples=8,
    seed=5,
)


def train_on_stream(workdir: pathlib.Path, wrap=None, **overrides):
    """Trains STREAM_CONFIG (with `overrides`) on the stream in `workdir`; `wrap(source)` may replace the source."""
    # pylint: disable=import-outside-toplevel
    from jaxlua.config import TrainConfig
    from jaxlua.train.loop import train
    from jaxlua.train.sources import open_training_data

    config = TrainConfig(**{**STREAM_CONFIG, **overrides})
    with open_training_data(config, workdir, progress=False) as (data, source):
        source = wrap(source) if wrap else source
        return train(config, workdir, source, data.val, vocab=data.vocab, dataset_info=data.info, progress=False)


if __name__ == "__main__":
    directory = pathlib.Path(sys.argv[1])
    result = train_on_stream(directory)
    np.savez(directory / "final_params.npz", **flat_params(result.state))
    print(json.dumps({"start_step": result.start_step}), flush=True)
