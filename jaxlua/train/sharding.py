"""Data parallelism over all devices: a 1-D mesh 'data', batch rows sharded, parameters replicated.

The same code runs on one CPU, one GPU or several devices; with one device the shardings are trivial. Past one
process (jaxlua.train.distributed) the mesh holds every process's devices: each process passes the same global
batch and hands on only its own rows, and gathers what it reads back.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxlua.train import distributed


class DataParallel:
    """The mesh and the two shardings every array of a run uses."""

    def __init__(self, devices: Sequence[jax.Device] | None = None):
        self.devices = list(jax.devices() if devices is None else devices)  # every process's devices
        self.mesh = Mesh(np.array(self.devices), ("data",))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch = NamedSharding(self.mesh, PartitionSpec("data"))
        self.multi_process = not self.replicated.is_fully_addressable

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
        if self.multi_process:
            return distributed.replicate(tree, self.replicated)
        return jax.device_put(tree, self.replicated)

    def shard_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """The global batch (every process passes the same one) split by rows over the mesh."""
        if self.multi_process:
            return distributed.shard_rows(batch, self.batch)
        return jax.device_put(batch, self.batch)

    def fetch(self, tree: Any) -> Any:
        """`jax.device_get`, gathering arrays that are split over other processes' devices."""
        return distributed.fetch(tree) if self.multi_process else jax.device_get(tree)
