"""The names of the files and folders a run writes into its workdir, named once for every module that reads them.

Layout of a workdir (`python -m experiments.train --workdir DIR`):

  config.json            the run's TrainConfig (a resumed run must match it)
  dataset.json           the dataset fingerprint and sizes (a resumed run must match the fingerprint)
  vocab.json             the Vocabulary built from the training programs
  lock.json              held while a train or evaluate runs (pid, host, command, start time)
  checkpoints/<step>     periodic saves, the newest `max_to_keep` kept
  best/<step>            the save with the lowest validation loss so far
  damaged/<slot>-<step>  steps that could not be restored, moved aside by a resuming run
  metrics.csv            scalars during training, one row per write
  tb/                    TensorBoard event files of the same scalars
  stream_keys.u64        a streamed run's log of the train programs' keys (stream_keys.json: its settings)
  processes/<i>/         the stream key log of process i > 0 in a multi-process run
  metrics.json           the test metrics of the run's own dataset; other splits and datasets go to
                         metrics_<dataset>_<split>[_limitN].json (`metrics_filename`)
  predictions.jsonl      one line per program beside each metrics file (`predictions_filename`)
  study_run.json         a finished run of experiments.study (its row of the study)

No JAX here: the NumPy side and the flag checks import it.
"""
from __future__ import annotations

import re

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
VOCAB_FILE = "vocab.json"
LOCK_FILE = "lock.json"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
CHECKPOINT_DIRS = (CHECKPOINTS_DIR, BEST_DIR)
DAMAGED_DIR = "damaged"
METRICS_CSV_FILE = "metrics.csv"
TENSORBOARD_DIR = "tb"
STREAM_KEYS_FILE = "stream_keys.u64"
STREAM_SETTINGS_FILE = "stream_keys.json"
PROCESSES_DIR = "processes"
METRICS_FILE = "metrics.json"
STUDY_RUN_FILE = "study_run.json"


def metrics_filename(split: str = "test", dataset: str | None = None, limit: int | None = None) -> str:
    """The file a run's metrics go to, named after what they measure.

    `metrics.json` is the run's own dataset, test split, every program (the contract's file); anything else is
    `metrics_<dataset>_<split>[_limitN].json`, with `dataset` the other dataset's name (None: the run's own).
    """
    if dataset is None and split == "test" and limit is None:
        return METRICS_FILE
    parts = ["metrics"]
    if dataset is not None:
        parts.append(re.sub(r"[^A-Za-z0-9.-]+", "-", dataset).strip("-.") or "dataset")
    parts.append(split)
    if limit is not None:
        parts.append(f"limit{limit}")
    return "_".join(parts) + ".json"


def predictions_filename(metrics_file: str = METRICS_FILE) -> str:
    """The predictions file beside a metrics file: metrics.json -> predictions.jsonl, metrics_<x>.json ->
    predictions_<x>.jsonl; any other name <stem>.json -> <stem>.predictions.jsonl. Distinct metrics files get
    distinct predictions files, and a predictions file never takes a metrics file's name."""
    stem = metrics_file[:-len(".json")] if metrics_file.endswith(".json") else metrics_file
    if stem == "metrics" or stem.startswith("metrics_"):
        return "predictions" + stem[len("metrics"):] + ".jsonl"
    return stem + ".predictions.jsonl"
