"""Linear-recurrence scans for the parallel cells (MinGRU, MinLSTM).

`linear_scan(log_a, log_b, h0=None, method="auto")` solves `h_t = a_t h_{t-1} + b_t` over time (axis 1) from
log-space gates; `linear_scan_linear(a, b, h0=None)` is the sequential scan on linear-space gates.
See kernels/scan.py for the methods and the measurements behind `method="auto"`.
"""
from kernels.scan import AUTO_METHOD, LOG_ZERO, METHODS, linear_scan, linear_scan_linear, resolve_method

__all__ = ["AUTO_METHOD", "LOG_ZERO", "METHODS", "linear_scan", "linear_scan_linear", "resolve_method"]
