"""The mastery curriculum of the program stream: the level mix follows what the model has learned.

Levels are admitted in the order of `TrainConfig.levels` (easiest first), `mastery_start` of them at the start,
evenly mixed until the first validation's mix takes over. At every validation:
- the next level is admitted once every admitted level's teacher-forced validation exact match reaches
  `mastery_threshold`, or once the admitted levels' mean exact match has gained less than `MIN_GAIN` over
  `mastery_patience` validations (learning there has stalled, so compute moves on);
- the admitted levels share the compute in proportion to their error, `max(1 - exact match, mastery_floor)`: a
  mastered level keeps a share, so nothing is forgotten, and a level that is not yet learned gets most. A level's
  share of programs is its compute share divided by its mean program length (long programs cost more per
  program), and levels not yet admitted get none.
The state (admitted count, best mean, validations since the last gain, and every mix set so far) is plain JSON
in the curriculum state of each checkpoint, so a resumed run sets the same mixes as an uninterrupted one.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

MIN_GAIN = 0.02  # mean exact match gain that counts as progress for `mastery_patience`


@dataclasses.dataclass(frozen=True)
class MasteryRule:
    """The rule of the mastery curriculum (see the module doc); `levels` in admission order."""

    levels: tuple[int, ...]
    mean_lengths: tuple[float, ...]  # mean encoded length per level, in `levels` order
    threshold: float
    patience: int
    floor: float
    start: int

    def __post_init__(self) -> None:
        if len(self.mean_lengths) != len(self.levels) or any(not length > 0 for length in self.mean_lengths):
            raise ValueError(f"mastery needs a positive mean length per level {self.levels}; "
                             f"got {self.mean_lengths}")

    def initial(self) -> dict[str, Any]:
        """The state before any validation."""
        return {"admitted": min(self.start, len(self.levels)), "best_mean": -1.0, "since_gain": 0, "mix": [],
                "errors": [1.0] * len(self.levels)}

    def weights(self, admitted: int, errors: Sequence[float]) -> tuple[float, ...]:
        """Program share per level (in `levels` order): compute by error, divided by length; 0 if not admitted."""
        return tuple(max(err, self.floor) / length if i < admitted else 0.0
                     for i, (err, length) in enumerate(zip(errors, self.mean_lengths)))


    def on_eval(self, state: Mapping[str, Any], step: int, exact_match: Mapping[int, float]) -> dict[str, Any]:
        """The state after a validation at `step` with teacher-forced exact match per level."""
        new = dict(state)
        errors = [1.0 - float(exact_match.get(level, 1.0 - old)) for level, old in zip(self.levels, state["errors"])]
        admitted = state["admitted"]
        scores = [1.0 - errors[i] for i in range(admitted)]
        mean = sum(scores) / len(scores)
        since_gain = 0 if mean >= state["best_mean"] + MIN_GAIN else state["since_gain"] + 1
        best_mean = max(mean, state["best_mean"]) if since_gain else mean
        if admitted < len(self.levels) and (min(scores) >= self.threshold or since_gain >= self.patience):
            admitted += 1
            since_gain, best_mean = 0, -1.0  # the new level starts its own progress count
        new.update(admitted=admitted, errors=errors, since_gain=since_gain, best_mean=best_mean,
                   mix=[*state["mix"], [step, list(self.weights(admitted, errors))]])
        return new
