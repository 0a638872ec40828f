"""Subprocess entry point of tests/models/test_recall.py (run with 2 forced host devices): two train steps of a
model with program recall on 1 device and on every device, from the same state and batch; prints a JSON line."""

from __future__ import annotations

import json


def main() -> None:
    # pylint: disable=import-outside-toplevel
    from jaxlua.train.config import TrainConfig
    from tests.train.toy_run import steps_on_one_and_every_device

    config = TrainConfig(cell="mingru", embed_dim=16, hidden_dim=32, num_layers=2, recall_dim=32, dropout=0.0,
                         batch_size=8, steps=10, warmup_steps=0, max_len=24, lr=1e-2)
    result = steps_on_one_and_every_device(config)
    del result["param_devices"]
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
