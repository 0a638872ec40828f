"""One process of a (multi-process) toy training run, for tests/train/test_distributed.py.

    python -m tests.train.distributed_run WORKDIR [--coordinator HOST:PORT --num_processes N --process_id I]
        [--stream] [--stop_at K --stop_process P] [--exchange]

Trains toy_run.RESUME_CONFIG (shortened; or stream_run.STREAM_CONFIG with --stream) in WORKDIR, resuming if a
checkpoint is there. Process 0 saves the final parameters to WORKDIR/final_params.npz. The last stdout line is
JSON: {"process", "processes", "devices", "start_step"} (with --stream also "made", "accepted" and "duplicates",
the stream's slot counts) or, when stopped, {"stopped_at", "checkpoint"}.
`--stop_at K --stop_process P`: process P asks the loop to stop (as SIGTERM would) while it takes batch K.
`--exchange`: no training; the stream's exchange over the coordinator and 40 streamed batches (also in one
process): {"gathered", "kept", "batches" (their digest), "made", "accepted", "duplicates", "lonely"}.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

# Dropout, the blend curriculum and the plateau schedule on: every piece of resumable state is exercised.
CONFIG = dict(steps=16, eval_interval=8, checkpoint_interval=8, log_interval=8)
STREAM_STEPS = dict(steps=20, eval_interval=5, checkpoint_interval=5, log_interval=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=pathlib.Path)
    parser.add_argument("--coordinator")
    parser.add_argument("--num_processes", type=int)
    parser.add_argument("--process_id", type=int)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--stop_at", type=int)
    parser.add_argument("--stop_process", type=int, default=0)
    parser.add_argument("--exchange", action="store_true")
    args = parser.parse_args()

    # pylint: disable=import-outside-toplevel
    from jaxlua.train import distributed

    distributed.initialize(distributed.settings(args.coordinator, args.num_processes, args.process_id))
    import jax

    if args.exchange:
        exchange_check(distributed, args.workdir)
        return

    from jaxlua.config import TrainConfig
    from jaxlua.train.loop import TrainingInterrupted, request_stop, train
    from jaxlua.train.sources import BatchSource, FixedSource
    from tests.train.toy_run import RESUME_CONFIG, flat_params

    class StopAt(BatchSource):
        """Asks the loop to stop, in one process only, while that process takes the batch of `step`."""

        def __init__(self, inner: BatchSource, step: int | None) -> None:
            self._inner, self._step = inner, step
            self.curriculum, self.edges = inner.curriculum, inner.edges
            self.loss_window, self.window_reason = inner.loss_window, inner.window_reason

        def batch(self, step, cstate):
            if step == self._step and jax.process_index() == args.stop_process:
                request_stop()
            return self._inner.batch(step, cstate)

    try:
        if args.stream:
            from jaxlua.train.sources import open_training_data
            from tests.train.stream_run import STREAM_CONFIG

            config = TrainConfig(**{**STREAM_CONFIG, **STREAM_STEPS})
            with open_training_data(config, args.workdir, progress=False) as (data, source):
                result = train(config, args.workdir, StopAt(source, args.stop_at), data.val, vocab=data.vocab,
                               dataset_info=data.info, progress=False)
        else:
            from jaxlua.train.batching import Arrays
            from tests.train.synthetic import VOCAB_SIZE, toy_dataset

            config = TrainConfig(**{**RESUME_CONFIG, **CONFIG})
            source = StopAt(FixedSource(Arrays.from_encoded(toy_dataset(48, seed=1)), config), args.stop_at)
            result = train(config, args.workdir, source, toy_dataset(16, seed=2), vocab_size=VOCAB_SIZE,
                           progress=False)
    except TrainingInterrupted as exc:
        print(json.dumps({"stopped_at": exc.step, "checkpoint": exc.checkpoint_step}), flush=True)
        return
    params = flat_params(result.state)  # replicated: every process holds the whole value
    if distributed.is_main_process():
        np.savez(args.workdir / "final_params.npz", **params)
    counts = ({k: sum(data.train.stats()[k].values()) for k in ("made", "accepted", "duplicates")} if args.stream
              else {})
    print(json.dumps({"process": jax.process_index(), "processes": jax.process_count(),
                      "devices": jax.device_count(), "start_step": result.start_step,
                      "history": result.history[-1], **counts}), flush=True)


def exchange_check(distributed, workdir: pathlib.Path) -> None:
    """Three all-gathers, which keys of this process are left in the store, the first streamed batches of a
    run's training data, and a wait for a silent process (the exchange alone needs more than one process)."""
    # pylint: disable=import-outside-toplevel
    import hashlib

    import jax
    from jax._src import distributed as jax_distributed

    from jaxlua.config import TrainConfig
    from jaxlua.data.stream_worker import StreamError
    from jaxlua.train.sources import open_training_data
    from tests.train.stream_run import STREAM_CONFIG

    me, out = jax.process_index(), {"gathered": None, "kept": None, "lonely": None}
    exchange = distributed.stream_exchange(timeout_s=2)
    if exchange is not None:
        out["gathered"] = [[v.decode() for v in exchange.all_gather(f"t{i}", f"{me}:{i}".encode())]
                           for i in range(3)]
        client, out["kept"] = jax_distributed.global_state.client, []
        for i in range(3):
            try:
                client.key_value_try_get_bytes(f"{exchange.namespace}/t{i}/{me}")
                out["kept"].append(i)
            except jax.errors.JaxRuntimeError:
                pass
    config = TrainConfig(**{**STREAM_CONFIG, **STREAM_STEPS})
    with open_training_data(config, workdir, progress=False) as (data, source):
        digest = hashlib.sha256()
        for step in range(40):
            batch = source.batch(step, None)  # no mastery curriculum: the state is not read
            for name in sorted(batch):
                digest.update(np.ascontiguousarray(batch[name]).tobytes())
        stats = data.train.stats()
    out.update(batches=digest.hexdigest(), **{k: sum(stats[k].values()) for k in ("made", "accepted", "duplicates")})
    if me == 1:  # process 0 never posts this tag
        try:
            exchange.all_gather("lonely", b"")
        except StreamError as exc:
            out["lonely"] = str(exc)
    distributed.barrier("exchange_check_done")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
