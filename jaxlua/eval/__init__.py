"""Evaluation: NumPy metrics, jit decoding, the shared evaluator and single-program latency.

The package imports nothing itself, so that `jaxlua.eval.metrics` stays free of JAX; import the JAX-side names
from their modules: `jaxlua.eval.decode` (Decoder, decode_rows, score_rows), `jaxlua.eval.evaluator`
(evaluate_model, format_metrics_table, write_metrics) and `jaxlua.eval.latency` (predict_source,
measure_latency).
"""
