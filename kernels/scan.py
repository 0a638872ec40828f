"""Linear-recurrence scans `h_t = a_t * h_{t-1} + b_t` behind one function with an AUTO choice.

Inputs are `[B, T, D]` with time on axis 1; `h0` is `[B, D]` (zero when omitted); the result `h` is
`[B, T, D]` in linear space. Whatever the input dtype, the recurrence is carried and returned in float32
(bf16 cannot hold a long product of gates). Methods:

- "sequential": `lax.scan` over time in linear space. O(T) depth, the fastest on CPU.
- "associative": `lax.associative_scan` over `(log a, log b)` pairs combined with the stable
  `(a1 + a2, logaddexp(b1 + a2, b2))`; O(log T) depth. Error stays near fp32 epsilon at any length.
- "heinsen": the two-cumsum form `h = exp(a* + logcumsumexp(log b - a*))`, `a* = cumsum(log a)`. Kept only as
  a reference: it cancels large terms, so its error grows with T (see results/bench_scan_*.json).
- "pallas": the fused GPU kernel `kernels.pallas_scan.pallas_linear_scan` (imported lazily; Triton on a GPU,
  interpreted elsewhere, so off a GPU it is a correctness path only). MinGRU and MinLSTM with this method skip
  `linear_scan` altogether: they call the fused `mingru_scan` / `minlstm_scan` on their raw pre-activations,
  which compute the gates inside the kernel (no gates or logs in memory) and take the padding mask directly.
- "auto": per backend, from `AUTO_METHOD` below.

The log-space methods need `b > 0` (their input is `log b`); MinGRU and MinLSTM satisfy this because
`g(x) > 0`. `h0` may have any sign: it enters as `exp(cumsum(log a)) * h0`, never through a log.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

METHODS = ("auto", "sequential", "associative", "heinsen", "pallas")

# method="auto" per backend, chosen from measurements, not habit. Keep this table in step with
# results/bench_scan_<backend>.json (written by `python -m experiments.bench_scan`).
#   cpu (results/bench_scan_cpu.json: 2 shared x86 cores, jax 0.10.2, B=32, D=256, median of 3, forward ms):
#        T=256: sequential 30, associative 210, heinsen 1280;  T=4096: sequential 758, associative 3154
#        (forward+backward at T=4096: 1608 vs 5196)                                      -> "sequential".
#   gpu: NOT YET MEASURED (no results/bench_scan_gpu.json). "associative" for now: the parallel scan has O(log T)
#        depth against T dependent steps for lax.scan. The GPU suite (`python -m experiments.bench_scan` on a GPU)
#        times MinGRU fwd+bwd through each method the cells can take (sequential, associative, fused Pallas) at
#        the issue-6 shapes and writes its pick as `recommended_auto_method`; switch "gpu" to that value (e.g.
#        "pallas") only once the committed results/bench_scan_gpu.json shows it faster.
#   tpu: unmeasured; "associative" (the Pallas kernels lower through Triton, GPU only).
AUTO_METHOD = {"cpu": "sequential", "gpu": "associative", "tpu": "associative"}

# Stand-in for log(0) inside the log-space methods: exp() of it is exactly 0 in fp32, yet logaddexp and its
# gradient stay finite (logaddexp(-inf, -inf) has a NaN gradient, which masked positions would hit).
LOG_ZERO = -1e30


def resolve_method(method: str, backend: str | None = None) -> str:
    """Map "auto" to a concrete method for `backend` (default: JAX's default backend); check the name."""
    if method not in METHODS:
        raise ValueError(f"unknown scan method {method!r}; expected one of {METHODS}")
    if method != "auto":
        return method
    backend = backend or jax.default_backend()
    return AUTO_METHOD.get(backend, "associative")


def _check(name_a: str, x_a: jax.Array, name_b: str, x_b: jax.Array, h0: jax.Array | None) -> None:
    if x_a.ndim != 3 or x_a.shape != x_b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must both be [B, T, D] with equal shapes; got {x_a.shape} and {x_b.shape}"
        )
    if h0 is not None and h0.shape != (x_a.shape[0], x_a.shape[2]):
        raise ValueError(f"h0 must be [B, D] = {(x_a.shape[0], x_a.shape[2])}; got {h0.shape}")


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
    """Sequential scan taking the linear-space `a, b` directly (no logs; any sign of `b`).

    The cells use this when the chosen method is "sequential" (CPU), where taking logs only to exponentiate
    them again would be wasted work.
    """
    _check("a", a, "b", b, h0)
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


def _pallas(log_a: jax.Array, log_b: jax.Array, h0: jax.Array) -> jax.Array:
    try:
        from kernels.pallas_scan import pallas_linear_scan
    except ImportError as err:  # the fused kernel is optional; say why it is unavailable
        raise RuntimeError(
            f"scan method 'pallas' is unavailable: cannot import kernels.pallas_scan.pallas_linear_scan ({err})"
        ) from err
    return pallas_linear_scan(log_a, log_b, h0).astype(jnp.float32)


def linear_scan(
    log_a: jax.Array, log_b: jax.Array, h0: jax.Array | None = None, method: str = "auto"
) -> jax.Array:
    """Solve `h_t = a_t h_{t-1} + b_t` over axis 1 from `log a`, `log b` ([B, T, D]); returns float32 h.

    `log_b = -inf` (or <= LOG_ZERO) means `b = 0`; `log_a = 0, log_b = -inf` carries the state unchanged,
    which is how callers mask padded positions.
    """
    _check("log_a", log_a, "log_b", log_b, h0)
    method = resolve_method(method)
    log_a = log_a.astype(jnp.float32)
    log_b = log_b.astype(jnp.float32)
    h0 = _h0_f32(h0, log_a)
    if method == "sequential":
        return _sequential_linear(jnp.exp(log_a), jnp.exp(log_b), h0)
    if method == "associative":
        return _associative(log_a, log_b, h0)
    if method == "heinsen":
        return _heinsen(log_a, log_b, h0)
    return _pallas(log_a, log_b, h0)
