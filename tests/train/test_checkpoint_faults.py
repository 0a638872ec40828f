"""Checkpoint faults: replayed steps, damaged steps, half-written steps, and resuming a run after each of them."""

from __future__ import annotations

import logging
import pathlib
import shutil

import numpy as np
import pytest

from jaxlua.train.checkpoint import Checkpoints, NoIntactCheckpointError, restore_for_inference
from jaxlua.train.config import TrainConfig
from jaxlua.train.loop import train
from tests.train.synthetic import VOCAB_SIZE, toy_dataset
from tests.train.toy_run import RESUME_CONFIG, flat_params


def _tree(value: float) -> dict[str, np.ndarray]:
    return {"w": np.full((256,), value, np.float32)}


def _save(checkpoints: Checkpoints, step: int, *, best: bool = False) -> bool:
    saved = checkpoints.save(step, _tree(step), {"step": step}, best=best)
    checkpoints.wait()
    return saved


def _truncate_data(step_dir: pathlib.Path) -> None:
    """Cuts the array data files of a step folder to 5 bytes, as a full disk or an interrupted copy would."""
    data = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
    assert data, f"no array data files under {step_dir}"
    for path in data:
        path.write_bytes(path.read_bytes()[:5])


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "damaged" in r.getMessage()]


def test_replayed_steps_are_not_saved_twice(tmp_path):
    checkpoints = Checkpoints(tmp_path, max_to_keep=2)
    try:
        assert _save(checkpoints, 10, best=True) and _save(checkpoints, 10)  # same step in both slots
        assert _save(checkpoints, 20, best=True)
        # A resumed run replays steps 10..20: neither the periodic nor the best slot may fail or go backwards.
        assert not _save(checkpoints, 10)
        assert not _save(checkpoints, 15, best=True)
        assert not _save(checkpoints, 20, best=True)
        assert checkpoints.steps() == [10] and checkpoints.steps(best=True) == [20]
        state, meta = checkpoints.restore(_tree(0), best=True)
        assert meta["step"] == 20 and float(state["w"][0]) == 20.0
    finally:
        checkpoints.close()


def test_damaged_newest_step_falls_back_with_one_warning(tmp_path, caplog):
    writer = Checkpoints(tmp_path, max_to_keep=3)
    for step in (10, 20, 30):
        _save(writer, step)
    writer.close()
    _truncate_data(tmp_path / "checkpoints" / "30")

    reader = Checkpoints(tmp_path, max_to_keep=3, read_only=True)
    with caplog.at_level(logging.WARNING):
        _, meta = reader.restore(_tree(0))
    reader.close()
    assert meta["step"] == 20
    assert len(_warnings(caplog)) == 1 and "checkpoints/30" in _warnings(caplog)[0]
    assert (tmp_path / "checkpoints" / "30").is_dir()  # a reader changes nothing

    caplog.clear()
    writer = Checkpoints(tmp_path, max_to_keep=3)
    with caplog.at_level(logging.WARNING):
        _, meta = writer.restore(_tree(0))
    assert meta["step"] == 20 and len(_warnings(caplog)) == 1
    assert not (tmp_path / "checkpoints" / "30").exists() and (tmp_path / "damaged" / "checkpoints-30").is_dir()
    assert _save(writer, 30)  # the replay saves step 30 again
    writer.close()


def test_explicit_damaged_step_raises(tmp_path):
    checkpoints = Checkpoints(tmp_path, max_to_keep=2)
    _save(checkpoints, 10)
    _truncate_data(tmp_path / "checkpoints" / "10")
    with pytest.raises(Exception):
        checkpoints.restore(_tree(0), step=10)
    checkpoints.close()


def test_half_written_step_is_never_chosen(tmp_path):
    checkpoints = Checkpoints(tmp_path, max_to_keep=2)
    _save(checkpoints, 10)
    checkpoints.close()
    # What a run killed during an orbax save leaves: the step's temporary folder, never renamed into place.
    partial = tmp_path / "checkpoints" / "20.orbax-checkpoint-tmp-1234567"
    (partial / "state").mkdir(parents=True)
    (partial / "state" / "manifest.ocdbt").write_bytes(b"\x00")
    reader = Checkpoints(tmp_path, max_to_keep=2, read_only=True)
    assert reader.steps() == [10] and reader.restore(_tree(0))[1]["step"] == 10
    reader.close()
    assert partial.exists()  # a reader leaves a running writer's temporary folders alone
    writer = Checkpoints(tmp_path, max_to_keep=2)
    assert writer.steps() == [10] and _save(writer, 20)  # the replay writes step 20 properly
    assert writer.restore(_tree(0))[1]["step"] == 20
    writer.close()


def test_inference_falls_back_from_a_damaged_best_to_checkpoints(tmp_path, caplog):
    writer = Checkpoints(tmp_path, max_to_keep=2)
    _save(writer, 10), _save(writer, 20), _save(writer, 20, best=True)
    writer.close()
    _truncate_data(tmp_path / "best" / "20")
    reader = Checkpoints(tmp_path, max_to_keep=2, read_only=True)
    with caplog.at_level(logging.WARNING):
        state, meta = restore_for_inference(reader, _tree(0))
    assert meta["step"] == 20 and float(state["w"][0]) == 20.0
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("best/20" in m for m in messages) and any("checkpoints step 20" in m for m in messages), messages

    _truncate_data(tmp_path / "checkpoints" / "20")
    _truncate_data(tmp_path / "checkpoints" / "10")
    with pytest.raises(NoIntactCheckpointError, match="no intact checkpoint"):
        restore_for_inference(reader, _tree(0))
    reader.close()
    with pytest.raises(NoIntactCheckpointError, match="no checkpoint yet"):
        restore_for_inference(Checkpoints(tmp_path / "empty", 2, read_only=True), _tree(0))


def _config() -> TrainConfig:
    # Validation every 5 steps, checkpoints every 10: best/ runs ahead of checkpoints/, as with the paper preset.
    return TrainConfig(**RESUME_CONFIG).replace(steps=25, eval_interval=5, checkpoint_interval=10, log_interval=5)


def _train(workdir: pathlib.Path):
    return train(_config(), workdir, toy_dataset(48, seed=1), toy_dataset(16, seed=2), vocab_size=VOCAB_SIZE,
                 progress=False)


@pytest.mark.slow
def test_resume_after_best_ran_ahead_or_a_damaged_step_matches_uninterrupted(tmp_path, caplog):
    reference = tmp_path / "reference"
    expected = flat_params(_train(reference).state)
    assert (reference / "best" / "25").is_dir() and (reference / "checkpoints" / "25").is_dir()

    # Killed after best/25 was written but before checkpoints/25 (or checkpoints/25 deleted by hand): the replay
    # from step 20 reaches the best step 25 again.
    ahead = tmp_path / "ahead"
    shutil.copytree(reference, ahead)
    shutil.rmtree(ahead / "checkpoints" / "25")
    # The newest periodic step damaged: resume falls back to step 20 and saves step 25 afresh.
    damaged = tmp_path / "damaged"
    shutil.copytree(reference, damaged)
    _truncate_data(damaged / "checkpoints" / "25")

    for workdir in (ahead, damaged):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = _train(workdir)
        assert result.start_step == 20
        actual = flat_params(result.state)
        for name, value in expected.items():
            np.testing.assert_array_equal(actual[name], value, err_msg=f"{workdir.name}: {name}")
        assert len(_warnings(caplog)) == (1 if workdir is damaged else 0), _warnings(caplog)
        assert (workdir / "checkpoints" / "25").is_dir() and (workdir / "best" / "25").is_dir()
    assert (damaged / "damaged" / "checkpoints-25").is_dir()
