"""Subprocess entry points for the train tests (run as `python -m tests.train.toy_run MODE WORKDIR`).

train:   trains the resume-test configuration on the toy dataset in WORKDIR (resuming if possible) and saves
         the final parameters to WORKDIR/final_params.npz.
interrupt: trains the resume-test configuration for very many steps, stopping on Ctrl-C or SIGTERM the way
         experiments.train does (one line, exit code 1).
sharded: one train step on 1 device and on every device (run with 2 forced host devices), from the same
         state and batch; prints a JSON line with the largest parameter difference and the shardings seen.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

from tests.train.synthetic import VOCAB_SIZE, toy_dataset

# Dropout, blend curriculum and plateau schedule on, so that every piece of resumable state is exercised.
RESUME_CONFIG = dict(
    cell="gru",
    embed_dim=16,
    hidden_dim=32,
    num_layers=1,
    dropout=0.1,
    batch_size=8,
    steps=150,
    lr=3e-3,
    warmup_steps=5,
    schedule="plateau",
    plateau_patience=1,
    curriculum="blend",
    eval_interval=15,
    checkpoint_interval=15,
    log_interval=15,
    max_to_keep=2,
    max_len=24,
    num_buckets=2,
    seed=3,
)


def flat_params(state) -> dict[str, np.ndarray]:
    import jax  # pylint: disable=import-outside-toplevel

    leaves = jax.tree_util.tree_leaves_with_path(state.params)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def run_train(workdir: pathlib.Path) -> None:
    from jaxlua.train.config import TrainConfig  # pylint: disable=import-outside-toplevel
    from jaxlua.train.loop import train  # pylint: disable=import-outside-toplevel

    data = toy_dataset(48, seed=1)
    result = train(
        TrainConfig(**RESUME_CONFIG), workdir, data, toy_dataset(16, seed=2), vocab_size=VOCAB_SIZE, progress=False
    )
    np.savez(workdir / "final_params.npz", **flat_params(result.state))
    print(json.dumps({"start_step": result.start_step}), flush=True)


def run_interrupt(workdir: pathlib.Path) -> None:
    # pylint: disable=import-outside-toplevel
    from jaxlua.cli.experiment import interrupt_on_sigterm
    from jaxlua.cli.flags import fail
    from jaxlua.train.config import TrainConfig
    from jaxlua.train.loop import TrainingInterrupted, train

    interrupt_on_sigterm()
    config = TrainConfig(**{**RESUME_CONFIG, "steps": 10**6})
    try:
        train(config, workdir, toy_dataset(48, seed=1), toy_dataset(16, seed=2), vocab_size=VOCAB_SIZE, progress=False)
    except TrainingInterrupted as exc:
        fail(exc, code=1)


def steps_on_one_and_every_device(config) -> dict:
    """Two train steps of `config` on 1 device and on every device, from the same state and toy batch: the largest
    parameter difference, both losses, and per run the devices of the batch and (sorted) of the parameters."""
    # pylint: disable=import-outside-toplevel
    import jax

    from jaxlua.train.batching import Arrays, make_batch
    from jaxlua.train.model_state import build_model, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.sharding import DataParallel
    from jaxlua.train.step import make_train_step

    batch = make_batch(Arrays.from_encoded(toy_dataset(8, seed=0)), np.arange(8), 24)
    results, batch_devices, param_devices = [], [], []
    for devices in (jax.devices()[:1], jax.devices()):
        dp = DataParallel(devices)
        state, graphs = initial_train_state(build_model(config, VOCAB_SIZE), config)
        state = dp.replicate(state)
        step = make_train_step(graphs.train_def, make_optimizer(config), config, dp.shardings)
        sharded_batch = dp.shard_batch(batch)
        batch_devices.append(len(sharded_batch["tokens"].sharding.device_set))
        rng = dp.replicate(jax.random.key(0))
        for _ in range(2):
            state, metrics = step(state, sharded_batch, rng)
        results.append((flat_params(state), float(metrics["loss"])))
        param_devices.append(sorted({len(leaf.sharding.device_set) for leaf in jax.tree.leaves(state.params)}))
    (one, loss_one), (many, loss_many) = results
    return {"devices": jax.device_count(), "max_param_diff": max(float(np.abs(one[k] - many[k]).max()) for k in one),
            "loss": [loss_one, loss_many], "batch_devices": batch_devices, "param_devices": param_devices}


def run_sharded() -> None:
    from jaxlua.train.config import TrainConfig  # pylint: disable=import-outside-toplevel

    config = TrainConfig(cell="gru", embed_dim=16, hidden_dim=32, num_layers=1, dropout=0.0, batch_size=8, steps=10,
                         warmup_steps=0, max_len=24, lr=1e-2)
    result = steps_on_one_and_every_device(config)
    shardings = [x for pair in zip(result.pop("batch_devices"), result.pop("param_devices")) for x in pair]
    print(json.dumps({**result, "shardings": shardings}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "train":
        run_train(pathlib.Path(sys.argv[2]))
    elif sys.argv[1] == "interrupt":
        run_interrupt(pathlib.Path(sys.argv[2]))
    elif sys.argv[1] == "sharded":
        run_sharded()
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
