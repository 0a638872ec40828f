"""Evaluation: NumPy metrics, jit decoding, the shared evaluator and single-program latency.

The package imports nothing itself, so that `jaxlua.eval.metrics` and `jaxlua.eval.by_construct` (exact match
per construct group) stay free of JAX; import the JAX-side names from their modules: `jaxlua.eval.decode`
(Decoder, decode_rows, score_rows), `jaxlua.eval.evaluator` (evaluate_split, evaluate_model,
format_metrics_table, write_metrics, write_predictions) and `jaxlua.eval.latency` (predict_source,
measure_latency).
"""
