"""Linear-recurrence scans for the parallel cells (MinGRU, MinLSTM), and their gate math.

`gated_scan(gate, inputs, h0=None, mask=None, method="auto")` is the one dispatcher: it resolves the method
and runs the backend on the gate's raw inputs (`kernels.gates`). `linear_scan(log_a, log_b, h0=None,
method="auto")` solves `h_t = a_t h_{t-1} + b_t` over time (axis 1) from log-space gates through it;
`linear_scan_linear(a, b, h0=None)` is the sequential scan on linear-space gates. See kernels/scan.py.
"""
from kernels import gates
from kernels.scan import (
    AUTO_METHOD, BACKENDS, LOG_ZERO, METHODS, gated_scan, linear_scan, linear_scan_linear, resolve_method,
)

__all__ = ["AUTO_METHOD", "BACKENDS", "LOG_ZERO", "METHODS", "gated_scan", "gates", "linear_scan",
           "linear_scan_linear", "resolve_method"]
