"""Fused Pallas GPU kernels for the gated linear recurrence of MinGRU / MinLSTM.

Every entry point computes ``h_t = a_t * h_{t-1} + b_t`` over inputs ``[B, T, D]`` (time on axis 1) and
differs only in the *gate function* that turns one time step of raw inputs into ``(a_t, b_t)`` inside
the kernel, so gates are never materialised in HBM:

- ``pallas_linear_scan(log_a, log_b, h0)``: ``a = exp(log_a)``, ``b = exp(log_b)``.
- ``mingru_scan(k, h_tilde, h0)``: ``a = 1 - sigmoid(k)``, ``b = sigmoid(k) * g(h_tilde)``.
- ``minlstm_scan(f, i, h_tilde, h0)``: ``a = f'``, ``b = i' * g(h_tilde)`` with the normalised gates
  ``f' = s(f) / (s(f) + s(i))``, ``i' = s(i) / (s(f) + s(i))`` (computed as ``sigmoid(+-d)``,
  ``d = softplus(-i) - softplus(-f)``, which never divides by zero), ``g`` as in the minGRU paper.

Kernel layout: grid ``(B, ceil(D / block_d), n_chunks)``; each program owns one batch row, ``block_d``
hidden units and one chunk of time, and walks its chunk sequentially with ``h`` carried in fp32
registers (loads and stores are rows of ``block_d`` contiguous elements, masked at the edge of D).
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
become 128-bit vector loads. The launch constants below are first guesses to be tuned on a GPU.

Memory traffic, for the benchmark's achieved bandwidth. Per element of ``[B, T, D]``, with ``s`` the
bytes of the input dtype, ``n`` the number of ``[B, T, D]`` inputs (2 for linear and MinGRU, 3 for
MinLSTM) and ``m`` the inputs that ``a`` depends on (1 for linear and MinGRU, 2 for MinLSTM):

    forward,  single pass:  (n + 1) s          read the inputs, write h
    forward,  chunked:      (2n + 1) s         pass 1 reads the inputs once more
    backward, single pass:  (2n + 2) s         read inputs, h and dh; write n input gradients
    backward, chunked:      (2n + m + 3) s     pass 1 reads the decay inputs and dh once more

plus fp32 per-chunk terms on ``[B, n_chunks, D]`` (initial states, summaries, carries).
``bytes_moved`` returns the exact total for the plan the kernels would choose; e.g. the linear scan
moves 3 s bytes per element forward and 9 s for forward+backward in the single-pass form.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

DEFAULT_BLOCK_D = 128  # hidden units per program: one warp, 4 fp32 per thread (128-bit loads)
TARGET_PROGRAMS = 1024  # below this many (row, block) programs, split time into chunks
MIN_CHUNK = 128  # never split time into chunks shorter than this automatically
DEFAULT_UNROLL = 4  # time steps per loop iteration whose loads are in flight together

_F32 = jnp.float32


# ----------------------------------------------------------------------------- gate functions


def _g(x: jax.Array) -> jax.Array:
    """The minGRU paper's positive activation: x + 0.5 for x >= 0, sigmoid(x) below."""
    return jnp.where(x >= 0, x + 0.5, jax.nn.sigmoid(x))


def _linear_gates(log_a, log_b):
    return jnp.exp(log_a), jnp.exp(log_b)


def _mingru_gates(k, h_tilde):
    return jax.nn.sigmoid(-k), jax.nn.sigmoid(k) * _g(h_tilde)


def _minlstm_decay_logit(f, i):
    return jax.nn.softplus(-i) - jax.nn.softplus(-f)  # log s(f) - log s(i)


def _minlstm_gates(f, i, h_tilde):
    d = _minlstm_decay_logit(f, i)
    return jax.nn.sigmoid(d), jax.nn.sigmoid(-d) * _g(h_tilde)


@dataclasses.dataclass(frozen=True)
class _Cell:
    """How one time step of raw inputs (fp32 rows) becomes (a, b); ``decay`` uses the first m inputs."""

    name: str
    num_inputs: int
    num_decay_inputs: int
    gates: Callable[..., tuple[jax.Array, jax.Array]]
    decay: Callable[..., jax.Array]


_CELLS = {
    "linear": _Cell("linear", 2, 1, _linear_gates, jnp.exp),
    "mingru": _Cell("mingru", 2, 1, _mingru_gates, lambda k: jax.nn.sigmoid(-k)),
    "minlstm": _Cell("minlstm", 3, 2, _minlstm_gates, lambda f, i: jax.nn.sigmoid(_minlstm_decay_logit(f, i))),
}


# ----------------------------------------------------------------------------- plan


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Static launch configuration (hashable: it is a nondiff argument of the custom VJP)."""

    batch: int
    length: int
    hidden: int
    block_d: int
    chunk: int
    interpret: bool
    num_warps: int
    num_stages: int | None
    unroll: int

    @property
    def num_chunks(self) -> int:
        return pl.cdiv(self.length, self.chunk)

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.batch, pl.cdiv(self.hidden, self.block_d), self.num_chunks)


def _choose_chunk(batch: int, length: int, hidden: int, block_d: int) -> int:
    """Whole sequence when B x D blocks fill the GPU, else chunks to reach ~TARGET_PROGRAMS."""
    programs = batch * pl.cdiv(hidden, block_d)
    if programs >= TARGET_PROGRAMS or length < 2 * MIN_CHUNK:
        return length
    num_chunks = min(pl.cdiv(TARGET_PROGRAMS, programs), length // MIN_CHUNK)
    return pl.cdiv(length, num_chunks)


def _make_plan(shape, *, block_d, chunk, interpret, num_warps, num_stages, unroll) -> _Plan:
    batch, length, hidden = shape
    if block_d < 1 or block_d & (block_d - 1):
        raise ValueError(f"block_d must be a positive power of 2 (Triton tensors), got {block_d}")
    if chunk is None:
        chunk = _choose_chunk(batch, length, hidden, block_d)
    elif chunk < 1:
        raise ValueError(f"chunk must be a positive number of time steps, got {chunk}")
    chunk = min(chunk, length)
    if interpret is None:
        interpret = jax.default_backend() != "gpu"
    if num_warps is None:
        num_warps = max(1, min(8, block_d // 128))
    if unroll < 1:
        raise ValueError(f"unroll must be a positive number of time steps, got {unroll}")
    unroll = min(unroll, chunk)
    return _Plan(batch, length, hidden, block_d, chunk, bool(interpret), num_warps, num_stages, unroll)


# ----------------------------------------------------------------------------- kernel helpers


def _lane_mask(block_d: int, hidden: int) -> jax.Array:
    cols = pl.program_id(1) * block_d + lax.broadcasted_iota(jnp.int32, (block_d,), 0)
    return cols < hidden


def _load(ref, mask, t=None) -> jax.Array:
    """Masked fp32 load of one row (time step t of a sequence block, or a per-chunk vector)."""
    view = ref if t is None else ref.at[t]
    return pltriton.load(view, mask=mask, other=jnp.zeros((), ref.dtype)).astype(_F32)


def _store(ref, value, mask, t=None) -> None:
    view = ref if t is None else ref.at[t]
    pltriton.store(view, value.astype(ref.dtype), mask=mask)


def _chunk_loop(plan: _Plan, load, update, init, *, reverse: bool = False):
    """Walk this program's chunk in time order (or reversed), ``plan.unroll`` steps per iteration.

    Each iteration first issues the loads of all its steps (``load(t) -> row``), then applies
    ``update(t, valid, row, carry) -> carry`` in order: the loads of a group are in flight together,
    which hides memory latency in this otherwise latency-bound loop. Steps past the chunk's last valid
    one (the sequence end, or padding of the unrolled loop) are clamped to it and must leave the carry
    unchanged; in forward order they come after it, in reverse order before it.
    """
    last = jnp.minimum(plan.length - 1 - pl.program_id(2) * plan.chunk, plan.chunk - 1)
    unroll, groups = plan.unroll, pl.cdiv(plan.chunk, plan.unroll)

    def group(i, carry):
        base = ((groups - 1 - i) if reverse else i) * unroll
        steps = [base + k for k in range(unroll)]
        steps = [(jnp.minimum(t, last), t <= last) for t in (steps[::-1] if reverse else steps)]
        rows = [load(t) for t, _ in steps]
        for (t, valid), row in zip(steps, rows):
            carry = update(t, valid, row, carry)
        return carry

    return lax.fori_loop(0, groups, group, init)


def _forward_kernel(*refs, cell: _Cell, plan: _Plan):
    x_refs, (start_ref, h_ref) = refs[: cell.num_inputs], refs[cell.num_inputs :]
    mask = _lane_mask(plan.block_d, plan.hidden)

    def update(t, valid, xs, h):
        a, b = cell.gates(*xs)
        h = jnp.where(valid, a * h + b, h)
        _store(h_ref, h, mask, t)  # clamped steps past the end rewrite the same value
        return h

    load = lambda t: [_load(r, mask, t) for r in x_refs]  # noqa: E731
    _chunk_loop(plan, load, update, _load(start_ref, mask))


def _forward_summary_kernel(*refs, cell: _Cell, plan: _Plan):
    x_refs, (prod_ref, end_ref) = refs[: cell.num_inputs], refs[cell.num_inputs :]
    mask = _lane_mask(plan.block_d, plan.hidden)

    def update(t, valid, xs, carry):
        prod, h = carry
        a, b = cell.gates(*xs)
        return jnp.where(valid, a * prod, prod), jnp.where(valid, a * h + b, h)

    load = lambda t: [_load(r, mask, t) for r in x_refs]  # noqa: E731
    init = (jnp.ones((plan.block_d,), _F32), jnp.zeros((plan.block_d,), _F32))
    prod, h = _chunk_loop(plan, load, update, init)
    _store(prod_ref, prod, mask)
    _store(end_ref, h, mask)


def _backward_summary_kernel(*refs, cell: _Cell, plan: _Plan):
    m = cell.num_decay_inputs
    x_refs, (dh_ref, prod_ref, out_ref) = refs[:m], refs[m:]
    mask = _lane_mask(plan.block_d, plan.hidden)

    def update(t, valid, row, carry):
        *xs, dh = row
        prod, g_out = carry
        a = cell.decay(*xs)
        return jnp.where(valid, a * prod, prod), jnp.where(valid, a * (g_out + dh), g_out)

    load = lambda t: [_load(r, mask, t) for r in (*x_refs, dh_ref)]  # noqa: E731
    init = (jnp.ones((plan.block_d,), _F32), jnp.zeros((plan.block_d,), _F32))
    prod, g_out = _chunk_loop(plan, load, update, init, reverse=True)
    _store(prod_ref, prod, mask)
    _store(out_ref, g_out, mask)


def _backward_kernel(*refs, cell: _Cell, plan: _Plan):
    n = cell.num_inputs
    x_refs, (h_ref, dh_ref, start_ref, carry_ref), refs = refs[:n], refs[n : n + 4], refs[n + 4 :]
    dx_refs, carry_out_ref = refs[:n], refs[n]
    mask = _lane_mask(plan.block_d, plan.hidden)
    h_start = _load(start_ref, mask)

    def load(t):
        h_prev = jnp.where(t == 0, h_start, _load(h_ref, mask, jnp.maximum(t - 1, 0)))
        return [_load(r, mask, t) for r in (*x_refs, dh_ref)] + [h_prev]

    def update(t, valid, row, carry):
        *xs, dh, h_prev = row
        g = carry + dh
        (a, _), gates_vjp = jax.vjp(cell.gates, *xs)
        for dx_ref, dx in zip(dx_refs, gates_vjp((g * h_prev, g))):
            _store(dx_ref, dx, mask, t)  # clamped steps store before the real step overwrites
        return jnp.where(valid, a * g, carry)

    carry = _chunk_loop(plan, load, update, _load(carry_ref, mask), reverse=True)
    _store(carry_out_ref, carry, mask)


# ----------------------------------------------------------------------------- pallas_call wrappers


def _call(kernel, cell: _Cell, plan: _Plan, in_kinds: str, out_kinds: str, out_dtypes, name: str):
    """Launch ``kernel`` on the plan's grid; kinds: 's' = [B, T, D] sequence, 'c' = [B, n_chunks, D]."""
    seq = pl.BlockSpec((None, plan.chunk, plan.block_d), lambda b, j, c: (b, c, j))
    per_chunk = pl.BlockSpec((None, None, plan.block_d), lambda b, j, c: (b, c, j))
    spec = {"s": seq, "c": per_chunk}
    shape = {"s": (plan.batch, plan.length, plan.hidden), "c": (plan.batch, plan.num_chunks, plan.hidden)}
    return pl.pallas_call(
        functools.partial(kernel, cell=cell, plan=plan),
        out_shape=[jax.ShapeDtypeStruct(shape[k], dt) for k, dt in zip(out_kinds, out_dtypes)],
        grid=plan.grid,
        in_specs=[spec[k] for k in in_kinds],
        out_specs=[spec[k] for k in out_kinds],
        interpret=plan.interpret,
        compiler_params=pltriton.CompilerParams(num_warps=plan.num_warps, num_stages=plan.num_stages),
        name=f"{cell.name}_{name}",
    )


def _combine(left, right):
    """Compose two affine maps h -> A h + H (left applied first)."""
    (a1, h1), (a2, h2) = left, right
    return a1 * a2, a2 * h1 + h2


def _chunk_ends(prod: jax.Array, local_end: jax.Array, init: jax.Array) -> jax.Array:
    """State at the end of each chunk [B, C, D] from the per-chunk summaries and the initial state."""
    prod_cum, end_cum = lax.associative_scan(_combine, (prod, local_end), axis=1)
    return prod_cum * init[:, None] + end_cum


def _forward(cell: _Cell, plan: _Plan, xs, h0):
    n, dtype = cell.num_inputs, xs[0].dtype
    h0 = h0.astype(_F32)
    if plan.num_chunks == 1:
        starts = h0[:, None]
    else:
        prod, local_end = _call(
            _forward_summary_kernel, cell, plan, "s" * n, "cc", (_F32, _F32), "fwd_summary"
        )(*xs)
        ends = _chunk_ends(prod, local_end, h0)
        starts = jnp.concatenate([h0[:, None], ends[:, :-1]], axis=1)
    (h,) = _call(_forward_kernel, cell, plan, "s" * n + "c", "s", (dtype,), "fwd")(*xs, starts)
    return h, starts


def _backward(cell: _Cell, plan: _Plan, xs, h, starts, dh):
    n, m = cell.num_inputs, cell.num_decay_inputs
    zeros = jnp.zeros((plan.batch, 1, plan.hidden), _F32)
    if plan.num_chunks == 1:
        carry_in = zeros
    else:
        prod, local_out = _call(
            _backward_summary_kernel, cell, plan, "s" * (m + 1), "cc", (_F32, _F32), "bwd_summary"
        )(*xs[:m], dh)
        flip = lambda x: jnp.flip(x, axis=1)  # noqa: E731
        outs = flip(_chunk_ends(flip(prod), flip(local_out), zeros[:, 0]))
        carry_in = jnp.concatenate([outs[:, 1:], zeros], axis=1)
    out_dtypes = tuple(x.dtype for x in xs) + (_F32,)
    *dxs, carry_out = _call(_backward_kernel, cell, plan, "s" * n + "sscc", "s" * n + "c", out_dtypes, "bwd")(
        *xs, h, dh, starts, carry_in
    )
    return tuple(dxs), carry_out[:, 0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _scan(cell: _Cell, plan: _Plan, xs: tuple, h0: jax.Array) -> jax.Array:
    return _forward(cell, plan, xs, h0)[0]


def _scan_fwd(cell, plan, xs, h0):
    h, starts = _forward(cell, plan, xs, h0)
    return h, (xs, h0, h, starts)


def _scan_bwd(cell, plan, residuals, dh):
    xs, h0, h, starts = residuals
    dxs, dh0 = _backward(cell, plan, xs, h, starts, dh)
    return dxs, dh0.astype(h0.dtype)


_scan.defvjp(_scan_fwd, _scan_bwd)


# ----------------------------------------------------------------------------- public API


def _run(cell_name: str, xs, h0, options: dict) -> jax.Array:
    cell = _CELLS[cell_name]
    xs = tuple(jnp.asarray(x) for x in xs)
    shape, dtype = xs[0].shape, xs[0].dtype
    if any(x.ndim != 3 or x.shape != shape for x in xs):
        raise ValueError(f"{cell_name} scan: inputs must all be [B, T, D] of one shape, got "
                         f"{[tuple(x.shape) for x in xs]}")
    if any(x.dtype != dtype for x in xs) or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"{cell_name} scan: inputs must share one floating dtype, got {[x.dtype for x in xs]}")
    if min(shape) < 1:
        raise ValueError(f"{cell_name} scan: empty input of shape {shape}")
    if math.prod(shape) >= 2**31:
        raise ValueError(f"{cell_name} scan: B*T*D for {shape} overflows the kernels' int32 offsets")
    if h0 is None:
        h0 = jnp.zeros((shape[0], shape[2]), _F32)
    elif jnp.shape(h0) != (shape[0], shape[2]) or not jnp.issubdtype(jnp.result_type(h0), jnp.floating):
        raise ValueError(f"{cell_name} scan: h0 must be a floating [B, D] = {(shape[0], shape[2])} array, "
                         f"got {jnp.shape(h0)} {jnp.result_type(h0)}")
    return _scan(cell, _make_plan(shape, **options), xs, jnp.asarray(h0))


def pallas_linear_scan(
    log_a: jax.Array, log_b: jax.Array, h0: jax.Array | None = None, *,
    interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """h_t = exp(log_a_t) h_{t-1} + exp(log_b_t) over axis 1 of [B, T, D] (options: module docstring)."""
    options = dict(interpret=interpret, block_d=block_d, chunk=chunk, unroll=unroll,
                   num_warps=num_warps, num_stages=num_stages)
    return _run("linear", (log_a, log_b), h0, options)


def mingru_scan(
    k: jax.Array, h_tilde: jax.Array, h0: jax.Array | None = None, *,
    interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """MinGRU from raw pre-activations: h_t = (1 - z) h_{t-1} + z g(h~), z = sigmoid(k)."""
    options = dict(interpret=interpret, block_d=block_d, chunk=chunk, unroll=unroll,
                   num_warps=num_warps, num_stages=num_stages)
    return _run("mingru", (k, h_tilde), h0, options)


def minlstm_scan(
    f: jax.Array, i: jax.Array, h_tilde: jax.Array, h0: jax.Array | None = None, *,
    interpret: bool | None = None, block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
    unroll: int = DEFAULT_UNROLL, num_warps: int | None = None, num_stages: int | None = None,
) -> jax.Array:
    """MinLSTM from raw pre-activations: h_t = f' h_{t-1} + i' g(h~) with normalised f' + i' = 1."""
    options = dict(interpret=interpret, block_d=block_d, chunk=chunk, unroll=unroll,
                   num_warps=num_warps, num_stages=num_stages)
    return _run("minlstm", (f, i, h_tilde), h0, options)


def bytes_moved(
    B: int, T: int, D: int, dtype, backward: bool, *,
    cell: str = "linear", block_d: int = DEFAULT_BLOCK_D, chunk: int | None = None,
) -> int:
    """HBM bytes the kernels read + write for one call (``backward=True``: forward plus backward).

    Counts the Pallas kernels of the plan ``chunk`` selects (as in the scans); the XLA combine over
    the ``[B, n_chunks, D]`` summaries between the passes is not counted.
    """
    if cell not in _CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {sorted(_CELLS)}")
    spec = _CELLS[cell]
    n, m = spec.num_inputs, spec.num_decay_inputs
    plan = _make_plan((B, T, D), block_d=block_d, chunk=chunk, interpret=True, num_warps=None,
                      num_stages=None, unroll=1)
    s, elems = jnp.dtype(dtype).itemsize, B * T * D
    chunk_vec = 4 * B * plan.num_chunks * D  # one fp32 [B, n_chunks, D] array
    chunked = plan.num_chunks > 1
    total = elems * s * (n + 1) + chunk_vec  # forward: inputs + starts in, h out
    if chunked:
        total += elems * s * n + 2 * chunk_vec  # forward summaries
    if backward:
        total += elems * s * (2 * n + 2) + 3 * chunk_vec  # inputs, h, dh, starts, carries
        if chunked:
            total += elems * s * (m + 1) + 2 * chunk_vec  # backward summaries
    return int(total)
