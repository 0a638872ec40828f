"""jaxlua.workdir_files names every file of a workdir once: the names on disk stay, and no other module spells one."""
from __future__ import annotations

import pathlib
import re

from jaxlua import workdir_files as W

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_names_on_disk_do_not_change():
    """Older workdirs hold these names; a rename would orphan their runs."""
    assert (W.CONFIG_FILE, W.DATASET_FILE, W.VOCAB_FILE, W.LOCK_FILE) == (
        "config.json", "dataset.json", "vocab.json", "lock.json")
    assert (W.CHECKPOINTS_DIR, W.BEST_DIR, W.DAMAGED_DIR, W.CHECKPOINT_DIRS) == (
        "checkpoints", "best", "damaged", ("checkpoints", "best"))
    assert (W.METRICS_CSV_FILE, W.TENSORBOARD_DIR, W.METRICS_FILE) == ("metrics.csv", "tb", "metrics.json")
    assert (W.STREAM_KEYS_FILE, W.STREAM_SETTINGS_FILE, W.PROCESSES_DIR) == (
        "stream_keys.u64", "stream_keys.json", "processes")
    assert W.STUDY_RUN_FILE == "study_run.json"
    assert W.predictions_filename(W.metrics_filename()) == "predictions.jsonl"
    assert W.predictions_filename(W.metrics_filename("val", limit=5)) == "predictions_val_limit5.jsonl"


def test_no_other_module_spells_a_workdir_file_name():
    names = [value for key, value in vars(W).items() if key.endswith("_FILE")]
    literal = re.compile("|".join(rf"[\"']{re.escape(name)}[\"']" for name in names))
    offenders = [f"{path.relative_to(ROOT)}: {match.group(0)}"
                 for folder in ("jaxlua", "experiments") for path in sorted((ROOT / folder).rglob("*.py"))
                 if path.name != "workdir_files.py"
                 for match in literal.finditer(path.read_text(encoding="utf-8"))]
    assert not offenders, offenders
