"""When a workdir's run may be resumed: which settings may change, and the check made before anything is written.

A rerun of the same command continues the run from its latest checkpoint. The saved configuration and dataset
fingerprint (beside the checkpoints) decide whether that is the same run: settings that cannot change the
trained parameters may differ, `steps` and `time_budget_s` may grow (the schedule follows the new total), and
any other difference is refused with the settings named.
"""
from __future__ import annotations

import json
import pathlib

from jaxlua.config import TrainConfig
from jaxlua.workdir_files import CONFIG_FILE, DATASET_FILE

# Fields that may change between a run and its resumption without changing the trained parameters.
RESUME_IGNORED_FIELDS = ("data_dir", "log_interval", "stream_workers")
# Fields a resumed run may increase (the learning-rate schedule follows the new total or budget).
RESUME_GROWABLE_FIELDS = ("steps", "time_budget_s")


class ResumeMismatchError(ValueError):
    """The workdir holds a run with another configuration or dataset."""


def config_differences(saved: TrainConfig, current: TrainConfig) -> list[str]:
    """Settings that differ (by flag name), ignoring those that cannot change the trained parameters and a
    growth of `steps`."""
    old_values, new_values = saved.flat(), current.flat()
    # An unset identifier style means the mode's default: compare the style in force, not the spelling.
    old_values["identifiers"] = saved.tokenizer.identifier_style
    new_values["identifiers"] = current.tokenizer.identifier_style
    diffs = []
    for name, old in old_values.items():
        new = new_values[name]
        if name in RESUME_IGNORED_FIELDS or old == new:
            continue
        if name in RESUME_GROWABLE_FIELDS and new > old:
            continue
        diffs.append(f"{name}: saved {old!r}, now {new!r}")
    return diffs


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
