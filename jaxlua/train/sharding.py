"""Data parallelism over all local devices: a 1-D mesh 'data', batch rows sharded, parameters replicated.

The same code runs on one CPU, one GPU or several devices; with one device the shardings are trivial.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


class DataParallel:
    """The mesh and the two shardings every array of a run uses."""

    def __init__(self, devices: Sequence[jax.Device] | None = None):
        self.devices = list(jax.local_devices() if devices is None else devices)
        self.mesh = Mesh(np.array(self.devices), ("data",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch = NamedSharding(self.mesh, PartitionSpec("data"))

    @property
    def num_devices(self) -> int:
        return len(self.devices)

    @property
    def shardings(self) -> tuple[NamedSharding, NamedSharding]:
        return self.replicated, self.batch

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.num_devices:
            raise ValueError(f"batch_size {batch_size} is not divisible by the {self.num_devices} devices")

    def replicate(self, tree: Any) -> Any:
        return jax.device_put(tree, self.replicated)

    def shard_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        return jax.device_put(batch, self.batch)
