"""What every bench_* result file records about its machine, and how it is printed and written."""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
from typing import Any

import jax
from absl import logging


def environment(machine_note: str) -> dict[str, Any]:
    """Device, versions, date and machine load: what the numbers depend on. `machine_note` is added on CPU."""
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "num_devices": jax.device_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_avg_1m_5m_15m_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if jax.default_backend() == "cpu":
        env["machine_note"] = f"{os.cpu_count()}-core CPU, " + machine_note
    return env


def default_out_path(bench: str) -> pathlib.Path:
    """results/<bench>_<backend>.json: one file per benchmark and backend."""
    return pathlib.Path("results") / f"{bench}_{jax.default_backend()}.json"


def write_result(result: dict[str, Any], out: str | None, bench: str) -> pathlib.Path:
    """Print `result` as JSON and write it to `out` (default: `default_out_path(bench)`)."""
    text = json.dumps(result, indent=2)
    print(text)
    path = pathlib.Path(out) if out else default_out_path(bench)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    logging.info("wrote %s", path)
    return path
