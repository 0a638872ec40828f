"""Checkpoints in a workdir (orbax), the files saved beside them, and loading a trained model for inference.

Layout of a workdir:
  config.json        the TrainConfig of the run (a resumed run must match it)
  dataset.json       the dataset fingerprint and sizes (a resumed run must match the fingerprint)
  vocab.json         the Vocabulary built from the train split
  checkpoints/<step> periodic saves (TrainState + loop metadata), the newest `max_to_keep` kept
  best/<step>        the save with the lowest validation loss so far
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import orbax.checkpoint as ocp
from absl import logging

from jaxlua.train.config import TrainConfig, config_differences

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
VOCAB_FILE = "vocab.json"


class ResumeMismatchError(ValueError):
    """The workdir holds a run with another configuration or dataset."""


def check_resume(workdir: str | pathlib.Path, config: TrainConfig, fingerprint: str | None) -> None:
    """Raises ResumeMismatchError when `workdir` already holds a run with another config or dataset."""
    workdir = pathlib.Path(workdir)
    config_path, dataset_path = workdir / CONFIG_FILE, workdir / DATASET_FILE
    if config_path.exists():
        saved = TrainConfig.from_json(config_path.read_text())
        diffs = config_differences(saved, config)
        if diffs:
            raise ResumeMismatchError(
                f"{workdir} holds a run with a different configuration ({'; '.join(diffs)}); "
                "use another --workdir or the same flags"
            )
    if dataset_path.exists() and fingerprint is not None:
        saved_fp = json.loads(dataset_path.read_text()).get("fingerprint")
        if saved_fp != fingerprint:
            raise ResumeMismatchError(
                f"{workdir} was trained on another dataset (fingerprint {saved_fp}, now "
                f"{fingerprint}); use another --workdir"
            )


def prepare_workdir(
    workdir: str | pathlib.Path, config: TrainConfig, dataset_info: dict[str, Any], vocab: Any | None
) -> pathlib.Path:
    """Creates the workdir, or checks that an existing run there matches `config` and the dataset fingerprint."""
    workdir = pathlib.Path(workdir)
    check_resume(workdir, config, dataset_info.get("fingerprint"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / CONFIG_FILE).write_text(config.to_json())
    (workdir / DATASET_FILE).write_text(json.dumps(dataset_info, indent=2, sort_keys=True))
    if vocab is not None and not (workdir / VOCAB_FILE).exists():
        vocab.save(workdir / VOCAB_FILE)
    return workdir


def _manager(directory: pathlib.Path, max_to_keep: int) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, cleanup_tmp_directories=True)
    return ocp.CheckpointManager(directory.absolute(), options=options, item_names=("state", "meta"))


class Checkpoints:
    """Periodic checkpoints plus the best one by validation loss, both through orbax CheckpointManagers."""

    def __init__(self, workdir: str | pathlib.Path, max_to_keep: int):
        workdir = pathlib.Path(workdir)
        self.latest = _manager(workdir / "checkpoints", max_to_keep)
        self.best = _manager(workdir / "best", 1)

    def latest_step(self) -> int | None:
        return self.latest.latest_step()

    def save(self, step: int, state: Any, meta: dict[str, Any], *, best: bool = False) -> None:
        """Saves asynchronously; `best=True` writes to the best-by-validation slot instead of the periodic one."""
        manager = self.best if best else self.latest
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        manager.save(step, args=args, force=True)

    def restore(self, target_state: Any, *, best: bool = False, step: int | None = None) -> tuple[Any, dict] | None:
        """(state, meta) of the newest save (of the best slot with `best`), laid out like `target_state`."""
        manager = self.best if best else self.latest
        step = manager.latest_step() if step is None else step
        if step is None:
            return None
        restored = manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target_state), meta=ocp.args.JsonRestore())
        )
        return restored.state, dict(restored.meta)

    def wait(self) -> None:
        self.latest.wait_until_finished()
        self.best.wait_until_finished()

    def close(self) -> None:
        self.latest.close()
        self.best.close()


def load_for_inference(workdir: str | pathlib.Path) -> tuple[Any, TrainConfig, Any, Any]:
    """(model in eval mode, TrainConfig, Vocabulary, Tokenizer) from a workdir; the best checkpoint if any."""
    # pylint: disable=import-outside-toplevel
    from flax import nnx

    from jaxlua.tokenize import Tokenizer, Vocabulary
    from jaxlua.train.model_state import build_model, initial_train_state

    workdir = pathlib.Path(workdir)
    if not (workdir / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{workdir} has no {CONFIG_FILE}: not a training workdir")
    config = TrainConfig.from_json((workdir / CONFIG_FILE).read_text())
    vocab = Vocabulary.load(workdir / VOCAB_FILE)
    tokenizer = Tokenizer(mode=config.tokenizer_mode)
    model = build_model(config, len(vocab))
    target, graphs = initial_train_state(model, config)
    checkpoints = Checkpoints(workdir, config.max_to_keep)
    try:
        use_best = checkpoints.best.latest_step() is not None
        restored = checkpoints.restore(target, best=use_best)
        if restored is None:
            raise FileNotFoundError(f"{workdir} has no checkpoint yet")
        state, meta = restored
        logging.info("loaded %s checkpoint at step %d from %s", "best" if use_best else "latest", meta["step"], workdir)
    finally:
        checkpoints.close()
    model = nnx.merge(graphs.eval_def, state.params, state.rest)
    model.eval()
    return model, config, vocab, tokenizer
