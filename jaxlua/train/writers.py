"""Scalar metrics to a CSV (`metrics.csv`, one row per write) and TensorBoard event files (`tb/`).

On resume the CSV keeps only rows up to the restored step, so a run killed after its last checkpoint does
not leave rows that the resumed run then writes again.
"""

from __future__ import annotations

import csv
import math
import pathlib
from typing import Mapping

from jaxlua.workdir_files import METRICS_CSV_FILE, TENSORBOARD_DIR


class MetricWriter:
    """Appends {name: float} scalars at a step to the CSV and to TensorBoard."""

    def __init__(self, workdir: str | pathlib.Path, resume_step: int = 0, tensorboard: bool = True):
        self._path = pathlib.Path(workdir) / METRICS_CSV_FILE
        self._rows: list[dict[str, str]] = []
        if self._path.exists():
            with self._path.open(newline="") as handle:
                self._rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= resume_step]
        self._columns = ["step"] + sorted({key for row in self._rows for key in row if key != "step"})
        self._rewrite()
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel

            self._tb = SummaryWriter(
                str(pathlib.Path(workdir) / TENSORBOARD_DIR), purge_step=resume_step + 1 if resume_step else None
            )

    def _rewrite(self) -> None:
        with self._path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._columns, restval="")
            writer.writeheader()
            writer.writerows(self._rows)

    def write(self, step: int, scalars: Mapping[str, float]) -> None:
        row = {"step": str(step)}
        row.update({name: repr(float(value)) for name, value in scalars.items()})
        self._rows.append(row)
        new_columns = sorted(set(row) - set(self._columns))
        if new_columns:
            self._columns += new_columns
            self._rewrite()
        else:
            with self._path.open("a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self._columns, restval="").writerow(row)
        if self._tb is not None:
            for name, value in scalars.items():
                if math.isfinite(float(value)):
                    self._tb.add_scalar(name, float(value), step)

    def rows(self) -> list[dict[str, str]]:
        return list(self._rows)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


class NoWriter:
    """A MetricWriter that writes nothing: the processes of a multi-process run other than process 0."""

    def write(self, step: int, scalars: Mapping[str, float]) -> None:
        pass

    def rows(self) -> list[dict[str, str]]:
        return []

    def close(self) -> None:
        pass


def validation_curve(workdir: str | pathlib.Path) -> list[dict[str, float]]:
    """The validation points a run's MetricWriter wrote: step, wall-clock seconds, validation loss and exact match."""
    points = []
    with (pathlib.Path(workdir) / METRICS_CSV_FILE).open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("val_exact_match"):
                points.append({"step": int(row["step"]), "seconds": round(float(row["elapsed_s"]), 1),
                               "val_loss": float(row["val_loss"]), "val_exact_match": float(row["val_exact_match"])})
    return points
