"""Fused Pallas GPU kernels for the gated linear recurrence of MinGRU / MinLSTM.

Every entry point computes ``h_t = a_t * h_{t-1} + b_t`` over inputs ``[B, T, D]`` (time on axis 1) and
differs only in the *gate* (``kernels.gates.GATES``, shared with the cells and the other scans) that turns
one time step of raw inputs into ``(a_t, b_t)`` inside the kernel, so gates are never materialised in HBM.
``fused_scan(gate, xs, h0, mask)`` runs any of them; the named entry points are:

- ``pallas_linear_scan(log_a, log_b, h0)``: ``a = exp(log_a)``, ``b = exp(log_b)``.
- ``mingru_scan(k, h_tilde, h0)``: ``a = 1 - sigmoid(k)``, ``b = sigmoid(k) * g(h_tilde)``.
- ``minlstm_scan(f, i, h_tilde, h0)``: ``a = f'``, ``b = i' * g(h_tilde)`` with the normalised gates
  ``f' = s(f) / (s(f) + s(i))``, ``i' = s(i) / (s(f) + s(i))`` (``kernels.gates.minlstm_logit``, which
  never divides by zero), ``g`` as in the minGRU paper.

Every entry point also takes ``mask`` ``[B, T]`` (bool or int; None = every step kept): where it is
False the step is the identity (``a = 1, b = 0``), so h is carried unchanged through padding, the
gradient passes through it unchanged and the masked inputs get zero gradient. The mask is read once per
step per program (4 bytes per (b, t)), so padded batches never materialise masked gates either.

Kernel layout (``kernels.pallas_kernels``): grid ``(B, ceil(D / block_d), n_chunks)``; each program owns
one batch row, ``block_d`` hidden units and one chunk of time, and walks its chunk sequentially with ``h``
carried in fp32 registers (loads and stores are rows of ``block_d`` contiguous elements, masked at the edge of D).
- Single pass (``n_chunks == 1``): one kernel reads the inputs and writes ``h``.
- Two-pass chunked form, used when ``B * ceil(D / block_d)`` programs are too few to fill the GPU:
  pass 1 scans every chunk from zero and writes only its summary ``(A, H)`` (product of the ``a`` and
  the local final state); a tiny XLA associative scan over chunks turns the summaries into each chunk's
  initial state; pass 2 re-runs the scan of every chunk from its true initial state and writes ``h``.
The time loop issues the loads of ``unroll`` steps together before their updates (memory-level
parallelism for a loop that is otherwise latency bound). Lengths that are not multiples of the chunk or
of ``unroll`` are handled by clamping the time index to the last valid step and leaving the carry
unchanged there (the repeated store writes the same value; in reverse it precedes the real one).

Options (keyword only, same for every entry point): ``interpret=None`` interprets on non-GPU backends;
``chunk=None`` picks the single-pass or chunked form from B x D, an explicit ``chunk`` < T (time steps
per chunk) forces the two-pass form; ``block_d`` (a power of 2) hidden units per program; ``unroll``
time steps whose loads are issued together; ``num_warps`` / ``num_stages`` go to Triton. Every entry
returns h ``[B, T, D]`` in the input dtype and is differentiable w.r.t. every input and ``h0``.

Backward (``jax.custom_vjp``): the reverse-time kernel of the same shape carries the gradient
``g_t = dh_t + a_{t+1} g_{t+1}`` in fp32, and at each step pulls ``(g_t * h_{t-1}, g_t)`` back through
the gate function (``jax.vjp`` inside the kernel) to the raw pre-activations; the chunked form applies
the same two passes in reverse. Outputs and gradients are in the input dtype; carries are fp32.

GPU lowering: the kernels pass ``jax.experimental.pallas.triton.CompilerParams`` and so lower through
Pallas' Triton backend. In jax 0.10.2 a plain ``pl.pallas_call`` on CUDA would default to Mosaic GPU
(``jax_pallas_use_mosaic_gpu=True``), but that route is deprecated in favour of ``plgpu.kernel`` and
needs Hopper (sm_90a) warpgroup programming; the Triton route is not deprecated, runs on Ampere,
Hopper and ROCm, and maps this per-row sequential loop directly onto one ``scf.for`` whose row loads
become 128-bit vector loads. The launch constants in pallas_kernels.py are first guesses to be tuned on a GPU.

Layout of the package: this module holds the entry points and the custom VJP; ``pallas_kernels`` the
kernel bodies and launch plans; ``kernels.gates`` the gate math; ``pallas_cost`` the HBM traffic
(``bytes_moved``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

from kernels.pallas_cost import bytes_moved
from kernels.gates import Gate, get_gate
from kernels.pallas_kernels import (
    DEFAULT_BLOCK_D, DEFAULT_UNROLL, F32, MASK_DTYPE, MIN_CHUNK, TARGET_PROGRAMS, Plan,
    backward_kernel, backward_summary_kernel, choose_chunk, forward_kernel, forward_summary_kernel, launch,
    make_plan,
)

__all__ = ["DEFAULT_BLOCK_D", "DEFAULT_UNROLL", "MIN_CHUNK", "TARGET_PROGRAMS", "bytes_moved", "choose_chunk",
           "fused_scan", "mingru_scan", "minlstm_scan", "pallas_linear_scan"]

_choose_chunk = choose_chunk  # the name the tests use


# ----------------------------------------------------------------------------- the two passes


def _combine(left, right):
    """Compose two affine maps h -> A h + H (left applied first)."""
    (a1, h1), (a2, h2) = left, right
    return a1 * a2, a2 * h1 + h2


def _chunk_ends(prod: jax.Array, local_end: jax.Array, init: jax.Array) -> jax.Array:
    """State at the end of each chunk [B, C, D] from the per-chunk summaries and the initial state."""
    prod_cum, end_cum = lax.associative_scan(_combine, (prod, local_end), axis=1)
    return prod_cum * init[:, None] + end_cum


def _forward(cell: Gate, plan: Plan, xs, h0, step_mask):
    n, dtype = cell.num_inputs, xs[0].dtype
    extra, extra_kinds = ((step_mask,), "m") if plan.masked else ((), "")
    h0 = h0.astype(F32)
    if plan.num_chunks == 1:
        starts = h0[:, None]
    else:
        prod, local_end = launch(
            forward_summary_kernel, cell, plan, "s" * n + extra_kinds, "cc", (F32, F32), "fwd_summary"
        )(*xs, *extra)
        ends = _chunk_ends(prod, local_end, h0)
        starts = jnp.concatenate([h0[:, None], ends[:, :-1]], axis=1)
    (h,) = launch(forward_kernel, cell, plan, "s" * n + extra_kinds + "c", "s", (dtype,), "fwd")(
        *xs, *extra, starts
    )
    return h, starts


def _backward(cell: Gate, plan: Plan, xs, step_mask, h, starts, dh):
    n, m = cell.num_inputs, cell.num_decay_inputs
    extra, extra_kinds = ((step_mask,), "m") if plan.masked else ((), "")
    zeros = jnp.zeros((plan.batch, 1, plan.hidden), F32)
    if plan.num_chunks == 1:
        carry_in = zeros
    else:
        prod, local_out = launch(
            backward_summary_kernel, cell, plan, "s" * m + extra_kinds + "s", "cc", (F32, F32), "bwd_summary"
        )(*xs[:m], *extra, dh)
        flip = lambda x: jnp.flip(x, axis=1)  # noqa: E731
        outs = flip(_chunk_ends(flip(prod), flip(local_out), zeros[:, 0]))
        carry_in = jnp.concatenate([outs[:, 1:], zeros], axis=1)
    out_dtypes = tuple(x.dtype for x in xs) + (F32,)
    in_kinds = "s" * n + extra_kinds + "sscc"
    *dxs, carry_out = launch(backward_kernel, cell, plan, in_kinds, "s" * n + "c", out_dtypes, "bwd")(
        *xs, *extra, h, dh, starts, carry_in
    )
    return tuple(dxs), carry_out[:, 0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _scan(cell: Gate, plan: Plan, xs: tuple, h0: jax.Array, step_mask: jax.Array | None) -> jax.Array:
    return _forward(cell, plan, xs, h0, step_mask)[0]


def _scan_fwd(cell, plan, xs, h0, step_mask):
    h, starts = _forward(cell, plan, xs, h0, step_mask)
    return h, (xs, h0, step_mask, h, starts)


def _scan_bwd(cell, plan, residuals, dh):
    xs, h0, step_mask, h, starts = residuals
    dxs, dh0 = _backward(cell, plan, xs, step_mask, h, starts, dh)
    return dxs, dh0.astype(h0.dtype), None  # the integer mask has no gradient


_scan.defvjp(_scan_fwd, _scan_bwd)


# ----------------------------------------------------------------------------- public API


def fused_scan(
    gate: str, xs, h0: jax.Array | None = None, mask: jax.Array | None = None, *,
    interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """The fused scan of `kernels.gates.GATES[gate]` over its raw inputs `xs` (options: module docstring)."""
    cell = get_gate(gate)
    options = dict(interpret=interpret, block_d=block_d, chunk=chunk, unroll=unroll,
                   num_warps=num_warps, num_stages=num_stages)
    if len(xs) != cell.num_inputs:
        raise ValueError(f"{gate} scan: takes {cell.num_inputs} inputs, got {len(xs)}")
    xs = tuple(jnp.asarray(x) for x in xs)
    shape, dtype = xs[0].shape, xs[0].dtype
    if any(x.ndim != 3 or x.shape != shape for x in xs):
        raise ValueError(f"{gate} scan: inputs must all be [B, T, D] of one shape, got "
                         f"{[tuple(x.shape) for x in xs]}")
    if any(x.dtype != dtype for x in xs) or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{gate} scan: inputs must share one floating dtype, got {[x.dtype for x in xs]}")
    if min(shape) < 1:
        raise ValueError(f"{gate} scan: empty input of shape {shape}")
    if math.prod(shape) >= 2**31:
        raise ValueError(f"{gate} scan: B*T*D for {shape} overflows the kernels' int32 offsets")
    if h0 is None:
        h0 = jnp.zeros((shape[0], shape[2]), F32)
    elif jnp.shape(h0) != (shape[0], shape[2]) or not jnp.issubdtype(jnp.result_type(h0), jnp.floating):
        raise ValueError(f"{gate} scan: h0 must be a floating [B, D] = {(shape[0], shape[2])} array, "
                         f"got {jnp.shape(h0)} {jnp.result_type(h0)}")
    if mask is not None:
        if jnp.shape(mask) != shape[:2] or jnp.issubdtype(jnp.result_type(mask), jnp.floating):
            raise ValueError(f"{gate} scan: mask must be a bool or integer [B, T] = {shape[:2]} array, "
                             f"got {jnp.shape(mask)} {jnp.result_type(mask)}")
        mask = (jnp.asarray(mask) != 0).astype(MASK_DTYPE)
    plan = make_plan(shape, masked=mask is not None, **options)
    return _scan(cell, plan, xs, jnp.asarray(h0), mask)


def pallas_linear_scan(
    log_a: jax.Array, log_b: jax.Array, h0: jax.Array | None = None, mask: jax.Array | None = None, *,
    interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """h_t = exp(log_a_t) h_{t-1} + exp(log_b_t) over axis 1 of [B, T, D] (options: module docstring)."""
    return fused_scan("linear", (log_a, log_b), h0, mask, interpret=interpret, block_d=block_d, chunk=chunk,
                      unroll=unroll, num_warps=num_warps, num_stages=num_stages)


def mingru_scan(
    k: jax.Array, h_tilde: jax.Array, h0: jax.Array | None = None, mask: jax.Array | None = None, *,
    interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """MinGRU from raw pre-activations: h_t = (1 - z) h_{t-1} + z g(h~), z = sigmoid(k); masked steps carry h."""
    return fused_scan("mingru", (k, h_tilde), h0, mask, interpret=interpret, block_d=block_d, chunk=chunk,
                      unroll=unroll, num_warps=num_warps, num_stages=num_stages)


def minlstm_scan(
    f: jax.Array, i: jax.Array, h_tilde: jax.Array, h0: jax.Array | None = None, mask: jax.Array | None = None,
    *, interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """MinLSTM from raw pre-activations: h_t = f' h_{t-1} + i' g(h~) with f' + i' = 1; masked steps carry h."""
    return fused_scan("minlstm", (f, i, h_tilde), h0, mask, interpret=interpret, block_d=block_d, chunk=chunk,
                      unroll=unroll, num_warps=num_warps, num_stages=num_stages)
