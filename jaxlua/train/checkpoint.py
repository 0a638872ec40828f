"""Checkpoints in a workdir (orbax), the files saved beside them, and loading a trained model for inference.

Periodic saves go to checkpoints/<step> (TrainState + loop metadata, the newest `max_to_keep` kept), the save
with the lowest validation loss to best/<step>, and steps that cannot be restored are moved to
damaged/<slot>-<step> (kept, not deleted); config.json, dataset.json and vocab.json are written beside them
(jaxlua.workdir_files names every file; jaxlua.train.resume_rules says when a run may resume).

A step folder appears only once complete (orbax renames it into place), a damaged step is skipped for the
newest intact one, and replayed steps are never saved twice, so a run killed at any moment can be resumed.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import orbax.checkpoint as ocp
from absl import logging

from jaxlua.data.run_data import make_tokenizer
from jaxlua.io import atomic_write_text
from jaxlua.train.distributed import barrier, is_main_process
from jaxlua.train.config import TrainConfig
from jaxlua.train.resume_rules import check_resume
from jaxlua.workdir_files import BEST_DIR, CHECKPOINTS_DIR, CONFIG_FILE, DAMAGED_DIR, DATASET_FILE, VOCAB_FILE


def prepare_workdir(
    workdir: str | pathlib.Path, config: TrainConfig, dataset_info: dict[str, Any], vocab: Any | None
) -> pathlib.Path:
    """Creates the workdir, or checks that an existing run there matches `config` and the dataset fingerprint.

    Past one process every process checks, and process 0 alone writes the files."""
    workdir = pathlib.Path(workdir)
    check_resume(workdir, config, dataset_info.get("fingerprint"))
    workdir.mkdir(parents=True, exist_ok=True)
    if not is_main_process():
        return workdir
    atomic_write_text(workdir / CONFIG_FILE, config.to_json())
    atomic_write_text(workdir / DATASET_FILE, json.dumps(dataset_info, indent=2, sort_keys=True))
    if vocab is not None and not (workdir / VOCAB_FILE).exists():
        vocab.save(workdir / VOCAB_FILE)
    return workdir


class NoIntactCheckpointError(FileNotFoundError):
    """The workdir holds no checkpoint that can be read (none saved yet, or every one damaged)."""


def _manager(directory: pathlib.Path, max_to_keep: int, read_only: bool) -> ocp.CheckpointManager:
    # Orbax writes each step into a temporary folder and renames it into place when complete, so a
    # half-written step is never listed; a writer also removes such leftovers of a killed run. A reader
    # neither creates nor cleans anything (a run may be writing there); Checkpoints refuses its saves.
    # Past one process, every process saves and restores with orbax; the two managers of a workdir save at the
    # same steps, so each names its barriers after its own folder (else they collide).
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=not read_only, cleanup_tmp_directories=not read_only,
        multiprocessing_options=ocp.options.MultiprocessingOptions(barrier_sync_key_prefix=directory.name),
    )
    return ocp.CheckpointManager(directory.absolute(), options=options, item_names=("state", "meta"))


def _first_line(exc: BaseException) -> str:
    """The first line of the innermost cause of `exc`, at most 200 characters (tensorstore's are long)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


class Checkpoints:
    """Periodic checkpoints (`checkpoints/`) plus the best one by validation loss (`best/`), two orbax managers.

    Safe to re-run after a kill: a save at a step that already exists is skipped (a resumed run replays the
    same steps), and so is a best save at a step older than the best one kept. Restores fall back from a
    damaged step to the newest intact one with one warning line; a writer (`read_only=False`) moves damaged
    steps into `damaged/` so that the replay can save those steps again.
    """

    def __init__(self, workdir: str | pathlib.Path, max_to_keep: int, *, read_only: bool = False):
        self.workdir = pathlib.Path(workdir)
        self.read_only = read_only
        self.latest = self.best = None
        if not read_only or (self.workdir / CHECKPOINTS_DIR).is_dir():
            self.latest = _manager(self.workdir / CHECKPOINTS_DIR, max_to_keep, read_only)
        if not read_only or (self.workdir / BEST_DIR).is_dir():
            self.best = _manager(self.workdir / BEST_DIR, 1, read_only)

    def _slot(self, best: bool) -> ocp.CheckpointManager | None:
        return self.best if best else self.latest

    def steps(self, *, best: bool = False) -> list[int]:
        """Saved steps of one slot, oldest first."""
        manager = self._slot(best)
        return sorted(manager.all_steps()) if manager is not None else []

    def latest_step(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, step: int, state: Any, meta: dict[str, Any], *, best: bool = False) -> bool:
        """Saves asynchronously; `best=True` writes to the best-by-validation slot instead of the periodic one.

        Returns False (and saves nothing) when the slot already holds `step`, or, for the best slot, a newer
        step: both happen when a resumed run replays steps that the killed run had already saved.
        """
        manager = self._slot(best)
        if self.read_only or manager is None:
            raise ValueError(f"checkpoints of {self.workdir} were opened read-only")
        saved = self.steps(best=best)
        if step in saved or (best and saved and saved[-1] > step):
            slot = BEST_DIR if best else CHECKPOINTS_DIR
            logging.info("not saving step %d again: %s/ already holds step %d", step, slot, saved[-1])
            return False
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        manager.save(step, args=args, force=True)
        return True

    def restore(self, target_state: Any, *, best: bool = False, step: int | None = None) -> tuple[Any, dict] | None:
        """(state, meta) of `step`, else of the newest intact step of one slot, laid out like `target_state`.

        None when the slot holds no intact step. A damaged step (a file missing or truncated) is skipped with
        a warning, and moved into `damaged/` unless read-only; an explicit `step` that fails raises instead.
        """
        manager = self._slot(best)
        if manager is None:
            return None
        args = ocp.args.Composite(state=ocp.args.StandardRestore(target_state), meta=ocp.args.JsonRestore())
        if step is not None:
            restored = manager.restore(step, args=args)
            return restored.state, dict(restored.meta)
        for candidate in reversed(self.steps(best=best)):
            try:
                restored = manager.restore(candidate, args=args)
                return restored.state, dict(restored.meta)
            except Exception as exc:  # pylint: disable=broad-except  # orbax/tensorstore raise many types
                self._damaged(best, candidate, exc)
        return None

    def _damaged(self, best: bool, step: int, exc: Exception) -> None:
        slot = BEST_DIR if best else CHECKPOINTS_DIR
        where = f"{self.workdir / slot / str(step)}"
        if self.read_only:
            logging.warning("checkpoint %s is damaged (%s); skipping it", where, _first_line(exc))
            return
        target = self.workdir / DAMAGED_DIR / f"{slot}-{step}"
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.workdir / DAMAGED_DIR / f"{slot}-{step}-{suffix}"
        if is_main_process():  # past one process, process 0 moves it and the others wait for that
            target.parent.mkdir(parents=True, exist_ok=True)
            (self.workdir / slot / str(step)).rename(target)
        barrier(f"jaxlua-damaged-{slot}-{step}")
        self._slot(best).reload()
        logging.warning("checkpoint %s is damaged (%s); moved it to %s and falling back to an earlier step",
                        where, _first_line(exc), target)

    def wait(self) -> None:
        for manager in (self.latest, self.best):
            if manager is not None:
                manager.wait_until_finished()

    def close(self) -> None:
        for manager in (self.latest, self.best):
            if manager is not None:
                manager.close()


def restore_for_inference(checkpoints: Checkpoints, target_state: Any) -> tuple[Any, dict]:
    """(state, meta) of the newest intact best checkpoint, else of the newest intact periodic one (warning which).

    Raises NoIntactCheckpointError when neither slot holds a readable step.
    """
    restored = checkpoints.restore(target_state, best=True)
    slot = BEST_DIR
    if restored is None:
        restored, slot = checkpoints.restore(target_state), CHECKPOINTS_DIR
        if restored is not None and checkpoints.steps(best=True):
            logging.warning("no intact checkpoint in %s; using %s step %d instead",
                            checkpoints.workdir / BEST_DIR, checkpoints.workdir / CHECKPOINTS_DIR, restored[1]["step"])
    if restored is None:
        damaged = checkpoints.steps(best=True) or checkpoints.steps()
        what = "no intact checkpoint (every saved step is damaged)" if damaged else "no checkpoint yet"
        raise NoIntactCheckpointError(f"{checkpoints.workdir} has {what}")
    logging.info("loaded %s/ step %d from %s", slot, restored[1]["step"], checkpoints.workdir)
    return restored


def load_for_inference(workdir: str | pathlib.Path) -> tuple[Any, TrainConfig, Any, Any]:
    """(model in eval mode, TrainConfig, Vocabulary, Tokenizer) from a workdir; the best checkpoint if any."""
    # pylint: disable=import-outside-toplevel
    from flax import nnx

    from jaxlua.train.model_state import build_model, initial_train_state

    workdir = pathlib.Path(workdir)
    if not (workdir / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{workdir} has no {CONFIG_FILE}: not a training workdir")
    config = TrainConfig.from_json((workdir / CONFIG_FILE).read_text())
    tokenizer = make_tokenizer(config.tokenizer)
    vocab = tokenizer.load_vocabulary(workdir / VOCAB_FILE)
    model = build_model(config, len(vocab))
    target, graphs = initial_train_state(model, config)
    checkpoints = Checkpoints(workdir, config.max_to_keep, read_only=True)
    try:
        state, _ = restore_for_inference(checkpoints, target)
    finally:
        checkpoints.close()
    model = nnx.merge(graphs.eval_def, state.params, state.rest)
    model.eval()
    return model, config, vocab, tokenizer
