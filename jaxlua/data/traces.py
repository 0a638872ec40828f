"""Execution traces in dataset records: their JSON form, and whether a dataset holds them.

A dataset built with traces (`make_dataset --trace`) stores in every record `trace`, the executed statements as
`[[line, [[name, value], ...]], ...]`, and `trace_truncated` (the sandbox cut the trace at its cap), and says
`"trace": true` in its meta.json. Training with `targets="trace_output"` needs such a dataset; the check below
turns a dataset without traces into one line that says how to build one. No lupa here.
"""
from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any

from jaxlua.data.splits import DatasetError

META_KEY = "trace"  # meta.json: whether the records hold traces
HOW_TO_TRACE = "build one with experiments.make_dataset --trace"


def trace_fields(result: Any) -> dict[str, Any]:
    """The record fields of a `LuaResult` run with `trace=True`: `trace` (JSON form) and `trace_truncated`."""
    if result.trace is None:
        raise ValueError("this LuaResult has no trace: run the program with trace=True")
    return {"trace": [[int(step.line), [[name, value] for name, value in step.changes]] for step in result.trace],
            "trace_truncated": bool(result.trace_truncated)}


def dataset_has_traces(data_dir: str | pathlib.Path) -> bool:
    """Whether `data_dir`'s meta.json says its records hold traces (False when it has no readable meta.json)."""
    try:
        meta = json.loads((pathlib.Path(data_dir) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get(META_KEY) is True


def require_traces(records: Iterable[Mapping[str, Any]], where: str) -> None:
    """DatasetError (one line, naming `where` and the first record) unless every record has a `trace` list."""
    for index, record in enumerate(records):
        if not isinstance(record.get("trace"), list):
            raise DatasetError(f"targets 'trace_output' needs execution traces, but record "
                               f"{record.get('id', index)} of {where} has none; {HOW_TO_TRACE}")
