"""Curriculum over difficulty levels, and the sampler that turns (step, curriculum state) into a batch.

Strategies: "none" (every batch from the whole train split), "sequential" (one stage per level, easiest
first; the same model keeps training when the stage advances), "blend" (each batch comes from the current
stage with probability 1 - blend_fraction, else from all stages; Learning to Execute's "mixed") and
"cumulative" (stage k holds the first k+1 levels, so easier levels keep being trained). A stage advances after a
fixed number of steps, or when the validation exact match on the stage's levels reaches a threshold. "mastery"
(the stream only) sets the stream's level mix from the validation exact match per level (mastery.py). The
curriculum state is two integers (stage, step the stage began), plus the mastery state, saved in every
checkpoint, so a resumed run samples the same batches as an uninterrupted one. In the loop, `CurriculumHook`
moves the state on after every step.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from absl import logging

from jaxlua.train.batching import Arrays, PoolStream, bucket_edges, make_batch
from jaxlua.train.budget import TimeBudget
from jaxlua.train.config import TrainConfig
from jaxlua.train.hooks import Hook, LoopState
from jaxlua.train.mastery import MasteryRule
from jaxlua.train.validation import exact_match_by_level

_ALL_POOL = 1000  # seed-key id of the "all stages" pool; stage pools use their stage index.
_BLEND_BLOCK = 4096


@dataclasses.dataclass
class CurriculumState:
    """Where the curriculum is: the current stage and the global step at which it began (and, for the mastery
    curriculum, its JSON state: jaxlua.train.mastery)."""

    stage: int = 0
    stage_start: int = 0
    mastery: dict[str, Any] | None = None

    @property
    def progress(self) -> int:
        """How far the curriculum is, as one number: the stage, or the mastery curriculum's admitted levels."""
        return self.stage if self.mastery is None else self.mastery["admitted"]

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {"stage": self.stage, "stage_start": self.stage_start}
        if self.mastery is not None:
            values["mastery"] = self.mastery
        return values


class Curriculum:
    """Stages (sets of levels) and the rule to advance through them."""

    def __init__(self, config: TrainConfig, levels_present: np.ndarray, mastery: MasteryRule | None = None):
        self.strategy = config.curriculum
        if (self.strategy == "mastery") != (mastery is not None):
            raise ValueError("the mastery curriculum needs its rule (the stream's levels and lengths), and only it")
        self.mastery = mastery
        levels = sorted(int(level) for level in np.unique(levels_present))
        if self.strategy in ("none", "mastery"):
            self.stages: list[tuple[int, ...]] = [tuple(levels)]
        elif self.strategy == "cumulative":
            self.stages = [tuple(levels[: k + 1]) for k in range(len(levels))]
        else:
            self.stages = [(lv,) for lv in levels]
        self.advance_rule = config.curriculum_advance
        self.stage_steps = config.curriculum_stage_steps or math.ceil(config.steps / len(self.stages))
        self._explicit_stage_steps = bool(config.curriculum_stage_steps)
        self.em_threshold = config.curriculum_em_threshold
        self.blend_fraction = config.blend_fraction

    def initial_state(self) -> CurriculumState:
        """The state of a run's first step."""
        return CurriculumState(mastery=self.mastery.initial() if self.mastery is not None else None)

    def on_share(self, state: CurriculumState, step: int, share: float) -> CurriculumState:
        """Under a time budget (advancing by steps, none set per stage): stage k begins when the share k / stages
        of the budget is spent, since the run's step count is not known in advance."""
        if self.advance_rule != "steps" or self._explicit_stage_steps:
            return state
        target = min(self.num_stages - 1, int(share * self.num_stages))
        return CurriculumState(target, step) if target > state.stage else state

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def on_step(self, state: CurriculumState, step: int) -> CurriculumState:
        """Advances by step count (called with the number of completed steps)."""
        if self.advance_rule == "steps" and state.stage < self.num_stages - 1:
            if step - state.stage_start >= self.stage_steps:
                return CurriculumState(state.stage + 1, step)
        return state

    def on_eval(self, state: CurriculumState, step: int, exact_match_by_level: dict[int, float]) -> CurriculumState:
        """Advances when the current stage's validation exact match reaches the threshold (the mastery
        curriculum: sets the level mix from it)."""
        if self.mastery is not None:
            return dataclasses.replace(state, mastery=self.mastery.on_eval(state.mastery, step, exact_match_by_level))
        if self.advance_rule != "exact_match" or state.stage >= self.num_stages - 1:
            return state
        scores = [exact_match_by_level[lv] for lv in self.stages[state.stage] if lv in exact_match_by_level]
        if scores and min(scores) >= self.em_threshold:
            return CurriculumState(state.stage + 1, step)
        return state


class CurriculumHook(Hook):
    """After every step: advances by steps (under a budget, by the share of it spent), then by this step's
    validation if one ran; logs a change, and the next batch is drawn in the new state."""

    def __init__(self, curriculum: Curriculum, budget: TimeBudget | None) -> None:
        super().__init__(every=1)
        self._curriculum, self._budget = curriculum, budget

    def __call__(self, run: LoopState) -> None:
        curriculum, old, step = self._curriculum, run.cstate, run.step
        new = curriculum.on_step(old, step)
        if self._budget is not None:
            new = curriculum.on_share(new, step, self._budget.spent(run.elapsed) / self._budget.seconds)
        if run.val is not None:
            new = curriculum.on_eval(new, step, exact_match_by_level(run.val))
        if new.mastery is not None and new.mastery["admitted"] != old.mastery["admitted"]:
            logging.info("mastery: level %s admitted at step %d (mix %s)",
                         curriculum.mastery.levels[new.mastery["admitted"] - 1], step,
                         [round(w, 4) for w in new.mastery["mix"][-1][1]])
        if new.stage != old.stage:
            logging.info("curriculum: stage %d -> %d (levels %s) at step %d", old.stage, new.stage,
                         curriculum.stages[new.stage], step)
        run.cstate = new


class BatchSampler:
    """Draws the training batch for a global step, given the curriculum state."""

    def __init__(self, data: Arrays, config: TrainConfig, curriculum: Curriculum):
        self.data = data
        self.curriculum = curriculum
        self.edges = bucket_edges(data.lengths, config.num_buckets, config.model.max_len)
        self._seed = config.seed
        self._blend_fraction = config.blend_fraction
        make = lambda pool, key: PoolStream(pool, data.lengths, self.edges, config.batch_size, (config.seed, key))
        self._all = make(np.arange(len(data)), _ALL_POOL)
        self._stage_streams = [
            make(np.flatnonzero(np.isin(data.level, stage)), index) for index, stage in enumerate(curriculum.stages)
        ]
        # In the blend, each stage draws its "all stages" share from its own stream, so stages do not replay it.
        self._blend_all_streams = [
            make(np.arange(len(data)), _ALL_POOL + 1 + index) for index in range(len(curriculum.stages))
        ]
        self._blend_cache: dict[int, np.ndarray] = {}

    def _blend_uses_all(self, stage: int, upto: int) -> np.ndarray:
        """Per local step of `stage`: True where the blend draws from all stages (seeded, cached)."""
        choices = self._blend_cache.get(stage, np.zeros(0, bool))
        while len(choices) < upto:
            block = len(choices) // _BLEND_BLOCK
            rng = np.random.default_rng([self._seed, 7, stage, block])
            choices = np.concatenate([choices, rng.random(_BLEND_BLOCK) < self._blend_fraction])
        self._blend_cache[stage] = choices
        return choices[:upto]

    def indices(self, step: int, state: CurriculumState) -> tuple[np.ndarray, int]:
        """Row indices (-1 = empty row) and bucket width of the batch trained at global `step`."""
        local = step - state.stage_start
        if self.curriculum.strategy == "none":
            return self._all.batch(step)
        stream = self._stage_streams[state.stage]
        if self.curriculum.strategy in ("sequential", "cumulative"):
            return stream.batch(local)
        uses_all = self._blend_uses_all(state.stage, local + 1)
        if uses_all[local]:
            return self._blend_all_streams[state.stage].batch(int(uses_all.sum()) - 1)
        return stream.batch(int(local + 1 - uses_all.sum()) - 1)

    def batch(self, step: int, state: CurriculumState) -> dict[str, np.ndarray]:
        rows, width = self.indices(step, state)
        return make_batch(self.data, rows, width)
