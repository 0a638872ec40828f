"""Subprocess entry point of tests/models/test_recall.py (run with 2 forced host devices): two train steps of a
model with program recall on 1 device and on every device, from the same state and batch; prints a JSON line."""

from __future__ import annotations

import json

import numpy as np


def main() -> None:
    # pylint: disable=import-outside-toplevel
    import jax

    from jaxlua.train.batching import Arrays, make_batch
    from jaxlua.train.config import TrainConfig
    from jaxlua.train.model_state import build_model, initial_train_state
    from jaxlua.train.optimizer import make_optimizer
    from jaxlua.train.sharding import DataParallel
    from jaxlua.train.step import make_train_step
    from tests.train.synthetic import VOCAB_SIZE, toy_dataset
    from tests.train.toy_run import flat_params

    config = TrainConfig(cell="mingru", embed_dim=16, hidden_dim=32, num_layers=2, recall_dim=32, dropout=0.0,
                         batch_size=8, steps=10, warmup_steps=0, max_len=24, lr=1e-2)
    batch = make_batch(Arrays.from_encoded(toy_dataset(8, seed=0)), np.arange(8), 24)
    results, batch_devices = [], []
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
    (one, loss_one), (many, loss_many) = results
    diff = max(float(np.abs(one[k] - many[k]).max()) for k in one)
    print(json.dumps({"devices": jax.device_count(), "max_param_diff": diff, "loss": [loss_one, loss_many],
                      "batch_devices": batch_devices}), flush=True)


if __name__ == "__main__":
    main()
