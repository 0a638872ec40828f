"""Past one machine: multi-process data parallelism on JAX's own distributed runtime (no coordinator of ours).

One process per host (or per GPU group): `--coordinator HOST:PORT --num_processes N --process_id I` on each, or
`--coordinator auto`, which lets `jax.distributed.initialize()` read the cluster (SLURM, Open MPI, ...) and
`JAX_COORDINATOR_ADDRESS`. `settings(...)` checks them (ValueError, one line) before anything starts, and
`initialize(...)` starts the runtime, with gloo collectives on CPU.

What changes past one process, and nothing else:
- The mesh of `jaxlua.train.sharding.DataParallel` holds every process's devices; parameters stay replicated,
  batch rows are split over all devices, so the jit step (and its gradient mean over the global batch) is
  unchanged.
- Every process holds the same global batch k (a function of (seed, k)) and hands on only its own rows
  (`local_rows`, `jax.make_array_from_process_local_data`). A fixed dataset is indexed alike everywhere; the
  program stream is sharded: each process's generator workers make only its share of every block, and the
  processes trade the candidates through the runtime's key-value store (`stream_exchange`), so generation
  scales with the processes.
- Decisions that read a clock or a signal are agreed on by all processes once per step (`StepAgreement`), so
  every process stops at the same step and follows the same time-budget schedule.
- Only process 0 writes the workdir's files, metrics, TensorBoard, predictions and INFO logs, and shows progress
  bars; orbax saves and restores checkpoints with every process taking part (the workdir must be on a
  filesystem every host sees). Each process keeps its stream key log, every key of the run, in a folder of its own.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
import re
from typing import Any, Mapping

import jax
import numpy as np

from jaxlua.data.stream_exchange import EXCHANGE_TIMEOUT_S, KeyValueExchange
from jaxlua.workdir_files import PROCESSES_DIR

AUTO = "auto"
_STREAM_EXCHANGES = itertools.count()  # streams opened in this launch: each process opens them in the same order
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):(\d{1,5})$")


@dataclasses.dataclass(frozen=True)
class DistributedSettings:
    """How this process joins a run: single-process when `coordinator` is None; `auto` asks the cluster."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def multi_process(self) -> bool:
        return self.coordinator is not None


def settings(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
             environ: Mapping[str, str] | None = None) -> DistributedSettings:
    """The validated launch settings (ValueError with one line naming the problem).

    Nothing set, or `num_processes` 1 alone: one process. `coordinator` falls back to JAX_COORDINATOR_ADDRESS;
    `auto` leaves the coordinator, process count and id to jax.distributed's cluster detection.
    """
    environ = os.environ if environ is None else environ
    env_address = environ.get("JAX_COORDINATOR_ADDRESS") or None
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"--num_processes must be >= 1, got {num_processes}")
    if coordinator == AUTO:
        if num_processes is not None or process_id is not None:
            raise ValueError("--coordinator auto reads the process count and id from the cluster; drop "
                             "--num_processes and --process_id or give --coordinator HOST:PORT")
        return DistributedSettings(AUTO)
    if coordinator is None and process_id is None and (num_processes is None or num_processes == 1):
        if env_address is None or num_processes == 1:
            return DistributedSettings(None, 1, 0)
        return DistributedSettings(AUTO)  # JAX_COORDINATOR_ADDRESS alone: JAX reads the rest from the cluster
    coordinator = coordinator or env_address
    if coordinator is None:
        raise ValueError(f"--num_processes {num_processes} needs --coordinator HOST:PORT (process 0's address, the "
                         "same on every process) or JAX_COORDINATOR_ADDRESS")
    if not _ADDRESS.match(coordinator) or not 0 < int(_ADDRESS.match(coordinator)[2]) < 65536:
        raise ValueError(f"--coordinator must be HOST:PORT (e.g. node0:12355) or auto, got {coordinator!r}")
    if num_processes is None:
        raise ValueError(f"--coordinator {coordinator} needs --num_processes N (the processes of the run)")
    if process_id is None:
        raise ValueError(f"--num_processes {num_processes} needs --process_id I, 0 <= I < {num_processes} (0 on "
                         "the coordinator's host)")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process_id {process_id} is out of range: {num_processes} processes have ids 0 to "
                         f"{num_processes - 1}")
    return DistributedSettings(coordinator, num_processes, process_id)


def initialize(values: DistributedSettings) -> None:
    """Starts JAX's distributed runtime for a multi-process run (a no-op for one process); blocks until all the
    processes have connected. Call it before anything touches a JAX device."""
    if not values.multi_process:
        return
    import logging as std_logging  # pylint: disable=import-outside-toplevel

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU hosts; GPUs use their own (NCCL)
    std_logging.getLogger("jax._src.distributed").setLevel(std_logging.WARNING)  # its INFO lines at every start
    if values.coordinator == AUTO:
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(values.coordinator, values.num_processes, values.process_id)
    if jax.process_index() != 0:
        from absl import logging  # pylint: disable=import-outside-toplevel

        logging.set_verbosity(logging.WARNING)  # process 0 logs the run; the others only their warnings


def process_index() -> int:
    return jax.process_index()


def process_count() -> int:
    return jax.process_count()


def is_main_process() -> bool:
    """True in the process that writes the run's files (process 0; the only one of a single-process run)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process has reached the barrier `name` (a no-op for one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

        multihost_utils.sync_global_devices(name)


def stream_state_dir(workdir: pathlib.Path) -> pathlib.Path:
    """Where this process's stream keeps its key log: the workdir itself for process 0 (as a one-process run),
    `processes/<i>` for the others (each process's stream holds every key of the run, in a log of its own)."""
    index = jax.process_index()
    return workdir if index == 0 else workdir / PROCESSES_DIR / str(index)


class _CoordinatorStore:
    """The distributed runtime's key-value store (held by the coordination service on process 0), which the
    stream's exchange uses: device collectives would race the train step's from the stream's thread."""

    def __init__(self) -> None:
        from jax._src import distributed as jax_distributed  # pylint: disable=import-outside-toplevel

        self._client = jax_distributed.global_state.client

    def set(self, key: str, value: bytes) -> None:
        self._client.key_value_set_bytes(key, value)

    def get(self, key: str, timeout_s: float) -> bytes | None:
        try:
            return self._client.blocking_key_value_get_bytes(key, max(1, int(timeout_s * 1000)))
        except jax.errors.JaxRuntimeError as exc:
            if "DEADLINE_EXCEEDED" in str(exc):
                return None
            raise

    def delete(self, key: str) -> None:
        self._client.key_value_delete(key)


def stream_exchange(timeout_s: float = EXCHANGE_TIMEOUT_S) -> KeyValueExchange | None:
    """This process's end of the exchange a sharded program stream trades candidates over; None for one process.

    Keys live under `jaxlua/stream/<n>/`, n counting the streams this launch opened; the stream adds its
    settings' fingerprint, its run and block to each. No key outlives the launch: every process restarts on
    resume and process 0 starts a fresh coordination service, so a resumed run cannot read an earlier launch's.
    """
    if jax.process_count() == 1:
        return None
    return KeyValueExchange(_CoordinatorStore(), jax.process_index(), jax.process_count(),
                            f"jaxlua/stream/{next(_STREAM_EXCHANGES)}", timeout_s)


def local_rows(sharding: jax.sharding.Sharding, global_rows: int) -> slice:
    """The contiguous rows of a `[global_rows, ...]` batch that this process's devices hold under `sharding`."""
    starts, stops = [], []
    for index in sharding.addressable_devices_indices_map((global_rows,)).values():
        rows = index[0]
        starts.append(rows.start or 0)
        stops.append(global_rows if rows.stop is None else rows.stop)
    first, last = min(starts), max(stops)
    if sum(b - a for a, b in set(zip(starts, stops))) != last - first:
        raise ValueError("this process's devices do not hold contiguous batch rows")
    return slice(first, last)


def _to_global(leaf: Any, sharding: jax.sharding.Sharding) -> Any:
    """`leaf` (an array every process holds whole) as a global array replicated under `sharding`."""
    if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
        return leaf
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        data = _to_global(jax.random.key_data(leaf), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
    host = np.asarray(leaf)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """Every leaf of `tree` (the same value in every process) replicated over a mesh that spans processes."""
    return jax.tree.map(lambda leaf: _to_global(leaf, sharding), tree)


def shard_rows(batch: dict[str, np.ndarray], sharding: jax.sharding.Sharding) -> dict[str, jax.Array]:
    """The global batch (the same in every process) as global arrays split by rows; only this process's rows
    are handed on (`jax.make_array_from_process_local_data`)."""
    out = {}
    for name, array in batch.items():
        array = np.asarray(array)
        rows = local_rows(sharding, array.shape[0])
        out[name] = jax.make_array_from_process_local_data(sharding, array[rows], array.shape)
    return out


def fetch(tree: Any) -> Any:
    """`jax.device_get` for arrays that may span processes: a sharded one is gathered from every process."""
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

    def get(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable and not leaf.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return jax.device_get(leaf)

    return jax.tree.map(get, tree)


class StepAgreement:
    """What the loop decides from a clock or a signal, the same in every process (a no-op for one process).

    `after_step(elapsed, stop)` gathers every process's clock and stop request once per step (one small
    collective): the clock becomes the slowest process's, and a stop request anywhere stops all of them at the
    same step; `stop_requested(local)` is what the loop checks before each step.
    """

    def __init__(self) -> None:
        self._multi = jax.process_count() > 1
        self._stop = False

    def stop_requested(self, local: bool) -> bool:
        return self._stop if self._multi else local

    def after_step(self, elapsed: float, stop: bool) -> float:
        if not self._multi:
            return elapsed
        from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel

        values = np.asarray(multihost_utils.process_allgather(np.array([elapsed, float(stop)], np.float32)))
        self._stop = bool(values[:, 1].max() > 0)
        return float(values[:, 0].max())
