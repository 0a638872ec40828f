"""Bucketed batches are deterministic, cover every row once per epoch, and follow the curriculum."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlua.train.batching import Arrays, PoolStream, bucket_edges, eval_batches, make_batch
from jaxlua.train.config import TrainConfig
from jaxlua.train.curriculum import BatchSampler, Curriculum, CurriculumState
from tests.train.synthetic import toy_dataset


@pytest.fixture(name="data")
def fixture_data() -> Arrays:
    return Arrays.from_encoded(toy_dataset(100, seed=0))


def test_bucket_edges_cover_every_row(data):
    edges = bucket_edges(data.lengths, 3, max_len=24)
    assert 1 <= len(edges) <= 4 and edges[-1] >= data.lengths.max()
    assert all(e % 8 == 0 for e in edges[:-1])


def test_an_epoch_visits_every_row_once_with_few_shapes(data):
    edges = bucket_edges(data.lengths, 3, max_len=24)
    stream = PoolStream(np.arange(len(data)), data.lengths, edges, 16, (0, 0))
    rows, widths = [], set()
    for k in range(stream.batches_per_epoch):
        indices, width = stream.batch(k)
        assert len(indices) == 16
        real = indices[indices >= 0]
        assert (data.lengths[real] <= width).all()
        rows.extend(real.tolist())
        widths.add(width)
    assert sorted(rows) == list(range(len(data)))
    assert widths <= set(edges)
    # Epochs differ, and a fresh stream reproduces any batch from its position alone.
    again = PoolStream(np.arange(len(data)), data.lengths, edges, 16, (0, 0))
    np.testing.assert_array_equal(
        again.batch(stream.batches_per_epoch + 2)[0], stream.batch(stream.batches_per_epoch + 2)[0]
    )
    assert not np.array_equal(stream.batch(0)[0], stream.batch(stream.batches_per_epoch)[0])


def test_make_batch_pads_empty_rows(data):
    batch = make_batch(data, np.array([3, -1]), 24)
    assert batch["tokens"].shape == (2, 24) and batch["tokens"].dtype == np.int32
    assert batch["lengths"][1] == 0 and not batch["tokens"][1].any()
    np.testing.assert_array_equal(batch["tokens"][0], data.tokens[3])


def test_eval_batches_cover_rows_once(data):
    batches = eval_batches(data, 32, bucket_edges(data.lengths, 2, 24))
    rows = np.concatenate([b["row"] for b in batches])
    assert sorted(rows[rows >= 0].tolist()) == list(range(len(data)))


def _levels_seen(sampler, state, steps):
    levels = set()
    for step in steps:
        rows, _ = sampler.indices(step, state)
        levels |= set(sampler.data.level[rows[rows >= 0]].tolist())
    return levels


def test_sequential_curriculum_draws_one_stage_and_advances(data):
    config = TrainConfig(curriculum="sequential", steps=30, batch_size=8, max_len=24)
    curriculum = Curriculum(config, data.level)
    assert curriculum.stages == [(1,), (2,), (3,)] and curriculum.stage_steps == 10
    sampler = BatchSampler(data, config, curriculum)
    state = CurriculumState()
    assert _levels_seen(sampler, state, range(10)) == {1}
    assert curriculum.on_step(state, 9) == state
    state = curriculum.on_step(state, 10)
    assert state == CurriculumState(1, 10)
    assert _levels_seen(sampler, state, range(10, 20)) == {2}


def test_cumulative_curriculum_keeps_the_easier_levels(data):
    config = TrainConfig(curriculum="cumulative", steps=60, batch_size=8, max_len=24)
    curriculum = Curriculum(config, data.level)
    assert curriculum.stages == [(1,), (1, 2), (1, 2, 3)] and curriculum.stage_steps == 20
    sampler = BatchSampler(data, config, curriculum)
    state = CurriculumState()
    assert _levels_seen(sampler, state, range(20)) == {1}
    state = curriculum.on_step(state, 20)
    assert _levels_seen(sampler, state, range(20, 60)) == {1, 2}
    state = curriculum.on_step(curriculum.on_step(state, 40), 40)
    assert state.stage == 2 and _levels_seen(sampler, state, range(40, 80)) == {1, 2, 3}


def test_exact_match_advance_rule(data):
    config = TrainConfig(curriculum="sequential", curriculum_advance="exact_match", curriculum_em_threshold=0.8)
    curriculum = Curriculum(config, data.level)
    state = CurriculumState()
    assert curriculum.on_step(state, 10_000) == state
    assert curriculum.on_eval(state, 50, {1: 0.7, 2: 0.1}) == state
    assert curriculum.on_eval(state, 50, {1: 0.8, 2: 0.1}) == CurriculumState(1, 50)


def test_blend_mixes_the_stage_with_all_levels(data):
    config = TrainConfig(curriculum="blend", blend_fraction=0.2, steps=300, batch_size=8, max_len=24, seed=1)
    curriculum = Curriculum(config, data.level)
    sampler = BatchSampler(data, config, curriculum)
    state = CurriculumState()
    pure = sum(set(data.level[r[r >= 0]].tolist()) <= {1} for r, _ in (sampler.indices(s, state) for s in range(200)))
    assert 0.65 * 200 < pure < 0.95 * 200  # about 80% of the batches come from stage 1 only
    assert _levels_seen(sampler, state, range(200)) == {1, 2, 3}
    fresh = BatchSampler(data, config, curriculum)
    for step in (0, 57, 199):
        np.testing.assert_array_equal(fresh.indices(step, state)[0], sampler.indices(step, state)[0])


def test_encoded_arrays_are_checked():
    bad = toy_dataset(4, seed=0)
    bad.lengths = bad.lengths[:3]
    with pytest.raises(ValueError, match="inconsistent shapes"):
        Arrays.from_encoded(bad)
