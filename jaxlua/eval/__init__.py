"""Evaluation: NumPy metrics, jit decoding, the shared evaluator and single-program latency.

`jaxlua.eval.metrics` imports no JAX; the JAX-side names below load lazily on first use, so that
importing the metrics (or this package) on the NumPy side never pulls JAX in.
"""
import importlib

_LAZY = {
    "Decoder": "jaxlua.eval.decode",
    "decode_rows": "jaxlua.eval.decode",
    "score_rows": "jaxlua.eval.decode",
    "evaluate_model": "jaxlua.eval.evaluator",
    "format_metrics_table": "jaxlua.eval.evaluator",
    "write_metrics": "jaxlua.eval.evaluator",
    "predict_source": "jaxlua.eval.latency",
    "measure_latency": "jaxlua.eval.latency",
}

__all__ = sorted(_LAZY) + ["metrics"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "metrics":
        return importlib.import_module("jaxlua.eval.metrics")
    raise AttributeError(f"module 'jaxlua.eval' has no attribute {name!r}")
