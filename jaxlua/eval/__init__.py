"""Evaluation: NumPy metrics, jit decoding, the shared evaluator and single-program latency.

`jaxlua.eval.metrics` imports no JAX; the JAX-side names below load lazily on first use, so that
importing the metrics (or this package) on the NumPy side never pulls JAX in.
"""
from jaxlua._lazy import lazy_exports

_LAZY = {
    "Decoder": "jaxlua.eval.decode",
    "decode_rows": "jaxlua.eval.decode",
    "score_rows": "jaxlua.eval.decode",
    "evaluate_model": "jaxlua.eval.evaluator",
    "format_metrics_table": "jaxlua.eval.evaluator",
    "write_metrics": "jaxlua.eval.evaluator",
    "predict_source": "jaxlua.eval.latency",
    "measure_latency": "jaxlua.eval.latency",
    "metrics": "jaxlua.eval.metrics",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
