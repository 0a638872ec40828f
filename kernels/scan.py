"""Linear-recurrence scans `h_t = a_t * h_{t-1} + b_t` behind one dispatcher with an AUTO choice.

Inputs are `[B, T, D]` with time on axis 1; `h0` is `[B, D]` (zero when omitted); the result `h` is
`[B, T, D]` in linear space. Whatever the input dtype, the recurrence is carried and returned in float32
(bf16 cannot hold a long product of gates). `gated_scan(gate, inputs, h0, mask, method)` is the one place a
method is resolved and run: the gate (`kernels.gates`) turns the raw inputs into `(a, b)` in the form the
backend needs, so the cells pass their pre-activations and never choose a path themselves;
`linear_scan(log_a, log_b, ...)` is `gated_scan` with the "linear" gate. Backends (`BACKENDS`; their names, with
"auto", are `jaxlua.config.SCAN_METHODS`):

- "sequential": `lax.scan` over time on the linear-space gates (no logs). O(T) depth, the fastest on CPU.
- "associative": `lax.associative_scan` over `(log a, log b)` pairs combined with the stable
  `(a1 + a2, logaddexp(b1 + a2, b2))`; O(log T) depth. Error stays near fp32 epsilon at any length.
- "heinsen": the two-cumsum form `h = exp(a* + logcumsumexp(log b - a*))`, `a* = cumsum(log a)`. Kept only as
  a reference: it cancels large terms, so its error grows with T (see results/bench_scan_*.json).
- "pallas": the fused kernel `kernels.pallas_scan.fused_scan` (imported lazily; Triton on a GPU, interpreted
  elsewhere, so off a GPU it is a correctness path only). It takes the raw inputs and the mask and computes the
  gates in registers: neither the gates nor their logs reach memory.
- "auto": per backend, from `AUTO_METHOD` below.

The log-space methods need `b > 0` (their input is `log b`); MinGRU and MinLSTM satisfy this because
`g(x) > 0`. `h0` may have any sign: it enters as `exp(cumsum(log a)) * h0`, never through a log. Where `mask`
[B, T] is False the step is the identity, so h is carried through padding unchanged.
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxlua.config import SCAN_METHODS
from kernels.gates import Gate, get_gate, mask_linear, mask_log

METHODS = SCAN_METHODS.names()

# method="auto" per backend, chosen from measurements, not habit: the figures are in
# results/bench_scan_<backend>.json (`python -m experiments.bench_scan` writes them, with the method it
# recommends; a test checks this table against every such file). A backend without a file gets "associative":
# the parallel scan has O(log T) depth against T dependent steps for lax.scan.
AUTO_METHOD = {"cpu": "sequential", "gpu": "associative", "tpu": "associative"}

# Stand-in for log(0) inside the log-space methods: exp() of it is exactly 0 in fp32, yet logaddexp and its
# gradient stay finite (logaddexp(-inf, -inf) has a NaN gradient, which masked positions would hit).
LOG_ZERO = -1e30


def resolve_method(method: str, backend: str | None = None) -> str:
    """Map "auto" to a concrete method for `backend` (default: JAX's default backend); check the name."""
    if method not in METHODS:
        raise ValueError(f"unknown scan method {method!r}; expected one of {', '.join(METHODS)}")
    if method != "auto":
        return method
    backend = backend or jax.default_backend()
    return AUTO_METHOD.get(backend, "associative")


def _check(names: Sequence[str], xs: Sequence[jax.Array], h0: jax.Array | None) -> None:
    shape = xs[0].shape
    if len(shape) != 3 or any(x.shape != shape for x in xs):
        shapes = " and ".join(str(x.shape) for x in xs)
        raise ValueError(f"{' and '.join(names)} must all be [B, T, D] with equal shapes; got {shapes}")
    if h0 is not None and h0.shape != (shape[0], shape[2]):
        raise ValueError(f"h0 must be [B, D] = {(shape[0], shape[2])}; got {h0.shape}")


def _h0_f32(h0: jax.Array | None, like: jax.Array) -> jax.Array:
    if h0 is None:
        return jnp.zeros((like.shape[0], like.shape[2]), jnp.float32)
    return h0.astype(jnp.float32)


def _sequential_linear(a: jax.Array, b: jax.Array, h0: jax.Array) -> jax.Array:
    """lax.scan over time; a, b, h0 already float32."""

    def step(h, ab):
        a_t, b_t = ab
        h = a_t * h + b_t
        return h, h

    _, hs = jax.lax.scan(step, h0, (jnp.swapaxes(a, 0, 1), jnp.swapaxes(b, 0, 1)))
    return jnp.swapaxes(hs, 0, 1)


def linear_scan_linear(a: jax.Array, b: jax.Array, h0: jax.Array | None = None) -> jax.Array:
    """Sequential scan taking the linear-space `a, b` directly (no logs; any sign of `b`)."""
    _check(("a", "b"), (a, b), h0)
    return _sequential_linear(a.astype(jnp.float32), b.astype(jnp.float32), _h0_f32(h0, a))


def _log_combine(left, right):
    a1, b1 = left
    a2, b2 = right
    return a1 + a2, jnp.logaddexp(b1 + a2, b2)


def _linear_combine(left, right):
    a1, b1 = left
    a2, b2 = right
    return a1 * a2, a2 * b1 + b2


@jax.custom_vjp
def _associative(log_a: jax.Array, log_b: jax.Array, h0: jax.Array) -> jax.Array:
    """Log-space parallel scan; h0 enters as `exp(cumsum(log a)) * h0`, so it may have any sign."""
    log_b = jnp.maximum(log_b, LOG_ZERO)
    a_cum, b_cum = jax.lax.associative_scan(_log_combine, (log_a, log_b), axis=1)
    return jnp.exp(a_cum) * h0[:, None, :] + jnp.exp(b_cum)


def _associative_fwd(log_a, log_b, h0):
    h = _associative(log_a, log_b, h0)
    return h, (log_a, log_b, h0, h)


def _associative_bwd(residuals, dh):
    """The backward of a linear recurrence is the reverse recurrence `g_t = dh_t + a_{t+1} g_{t+1}`.

    It runs as a linear-space parallel scan over the time-reversed sequence (cotangents may be negative, so
    no logs); then `d log b = g b`, `d log a = g a h_{t-1}`, `d h0 = a_0 g_0`. This is cheaper to compile and
    run than differentiating through the log-space combine.
    """
    log_a, log_b, h0, h = residuals
    a = jnp.exp(log_a)
    a_next = jnp.concatenate([a[:, 1:], jnp.zeros_like(a[:, :1])], axis=1)
    _, g = jax.lax.associative_scan(_linear_combine, (a_next, dh), axis=1, reverse=True)
    h_prev = jnp.concatenate([h0[:, None, :], h[:, :-1]], axis=1)
    d_log_b = g * jnp.exp(jnp.maximum(log_b, LOG_ZERO))
    return g * a * h_prev, d_log_b, a[:, 0] * g[:, 0]


_associative.defvjp(_associative_fwd, _associative_bwd)


def _heinsen(log_a: jax.Array, log_b: jax.Array, h0: jax.Array) -> jax.Array:
    a_star = jnp.cumsum(log_a, axis=1)
    log_b = jnp.maximum(log_b, LOG_ZERO)
    log_h = a_star + jax.lax.cumlogsumexp(log_b - a_star, axis=1)
    return jnp.exp(a_star) * h0[:, None, :] + jnp.exp(log_h)


# ----------------------------------------------------------------------------- the dispatcher

Backend = Callable[[Gate, tuple, jax.Array, "jax.Array | None"], jax.Array]


def _run_sequential(gate: Gate, xs: tuple, h0: jax.Array, mask: jax.Array | None) -> jax.Array:
    return _sequential_linear(*mask_linear(*gate.linear(*xs), mask), h0)


def _run_associative(gate: Gate, xs: tuple, h0: jax.Array, mask: jax.Array | None) -> jax.Array:
    return _associative(*mask_log(*gate.log(*xs), mask), h0)


def _run_heinsen(gate: Gate, xs: tuple, h0: jax.Array, mask: jax.Array | None) -> jax.Array:
    return _heinsen(*mask_log(*gate.log(*xs), mask), h0)


def _run_pallas(gate: Gate, xs: tuple, h0: jax.Array, mask: jax.Array | None) -> jax.Array:
    try:
        from kernels.pallas_scan import fused_scan  # pylint: disable=import-outside-toplevel (optional)
    except ImportError as err:  # the fused kernel is optional; say why it is unavailable
        raise RuntimeError(
            f"scan method 'pallas' is unavailable: cannot import kernels.pallas_scan.fused_scan ({err})"
        ) from err
    return fused_scan(gate.name, xs, h0, mask).astype(jnp.float32)


# Every concrete method of SCAN_METHODS ("auto" resolves to one of these); a test checks the two agree.
BACKENDS: dict[str, Backend] = {
    "sequential": _run_sequential,
    "associative": _run_associative,
    "heinsen": _run_heinsen,
    "pallas": _run_pallas,
}


def gated_scan(
    gate: str, inputs: Sequence[jax.Array], h0: jax.Array | None = None, mask: jax.Array | None = None,
    method: str = "auto",
) -> jax.Array:
    """h [B, T, D] float32 of `h_t = a_t h_{t-1} + b_t`, `(a_t, b_t)` = the gate `gate` of the raw `inputs`.

    `inputs` are the gate's `[B, T, D]` pre-activations (`kernels.gates.GATES[gate].num_inputs` of them, h̃
    last); `mask` [B, T] (bool) keeps h unchanged where False. `method` is resolved here, once.
    """
    spec = get_gate(gate)
    if len(inputs) != spec.num_inputs:
        raise ValueError(f"gate {gate!r} takes {spec.num_inputs} inputs; got {len(inputs)}")
    _check([f"{gate} input {i}" for i in range(len(inputs))], inputs, h0)
    if mask is not None and mask.shape != inputs[0].shape[:2]:
        raise ValueError(f"mask must be [B, T] = {inputs[0].shape[:2]}; got {mask.shape}")
    backend = BACKENDS[resolve_method(method)]
    xs = tuple(x.astype(jnp.float32) for x in inputs)
    return backend(spec, xs, _h0_f32(h0, xs[0]), mask)


def linear_scan(
    log_a: jax.Array, log_b: jax.Array, h0: jax.Array | None = None, method: str = "auto"
) -> jax.Array:
    """Solve `h_t = a_t h_{t-1} + b_t` over axis 1 from `log a`, `log b` ([B, T, D]); returns float32 h.

    `log_b = -inf` (or <= LOG_ZERO) means `b = 0`; `log_a = 0, log_b = -inf` carries the state unchanged,
    which is how callers mask padded positions.
    """
    _check(("log_a", "log_b"), (log_a, log_b), h0)
    return gated_scan("linear", (log_a, log_b), h0, method=method)
