"""Kernel bodies and launch plans of the fused Pallas scans (the public entry points are in pallas_scan.py).

A *gate* (``kernels.gates.Gate``, the one home of the cells' gate math) turns one time step of raw inputs
(fp32 rows of ``block_d`` hidden units) into the affine map ``h -> a h + b``; a *plan* fixes the grid ``(B, ceil(D / block_d), n_chunks)``: each program owns one batch
row, ``block_d`` hidden units and one chunk of time, and walks its chunk sequentially with the carry in fp32
registers. Four kernels share that walk: the forward scan, the forward chunk summary (first pass of the
two-pass form), the backward chunk summary and the backward scan. With an optional per-step mask ``[B, T]``
a masked step is the identity map (``a = 1, b = 0``): it carries h forward and the gradient backward
unchanged and gives its inputs zero gradient.
"""

from __future__ import annotations

import dataclasses
import functools
import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from kernels.gates import Gate

DEFAULT_BLOCK_D = 128  # hidden units per program: one warp, 4 fp32 per thread (128-bit loads)
TARGET_PROGRAMS = 1024  # below this many (row, block) programs, split time into chunks
MIN_CHUNK = 128  # never split time into chunks shorter than this automatically
DEFAULT_UNROLL = 4  # time steps per loop iteration whose loads are in flight together
MASK_DTYPE = jnp.int32  # the [B, T] step mask as the kernels read it (0 = carry the state unchanged)

F32 = jnp.float32


# ----------------------------------------------------------------------------- plan


@dataclasses.dataclass(frozen=True)
class Plan:
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
    masked: bool = False  # a [B, T] step mask follows the sequence inputs

    @property
    def num_chunks(self) -> int:
        return pl.cdiv(self.length, self.chunk)

    @property
    def grid(self) -> tuple[int, int, int]:
        return (self.batch, pl.cdiv(self.hidden, self.block_d), self.num_chunks)


def choose_chunk(batch: int, length: int, hidden: int, block_d: int) -> int:
    """Whole sequence when B x D blocks fill the GPU, else chunks to reach ~TARGET_PROGRAMS."""
    programs = batch * pl.cdiv(hidden, block_d)
    if programs >= TARGET_PROGRAMS or length < 2 * MIN_CHUNK:
        return length
    num_chunks = min(pl.cdiv(TARGET_PROGRAMS, programs), length // MIN_CHUNK)
    return pl.cdiv(length, num_chunks)


def make_plan(shape, *, block_d, chunk, interpret, num_warps, num_stages, unroll, masked=False) -> Plan:
    """Check the options and fill in the defaults (see pallas_scan's docstring)."""
    batch, length, hidden = shape
    if block_d < 1 or block_d & (block_d - 1):
        raise ValueError(f"block_d must be a positive power of 2 (Triton tensors), got {block_d}")
    if chunk is None:
        chunk = choose_chunk(batch, length, hidden, block_d)
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
    return Plan(batch, length, hidden, block_d, chunk, bool(interpret), num_warps, num_stages, unroll,
                bool(masked))


# ----------------------------------------------------------------------------- kernel helpers


def _lane_mask(block_d: int, hidden: int) -> jax.Array:
    cols = pl.program_id(1) * block_d + lax.broadcasted_iota(jnp.int32, (block_d,), 0)
    return cols < hidden


def _load(ref, mask, t=None) -> jax.Array:
    """Masked fp32 load of one row (time step t of a sequence block, or a per-chunk vector)."""
    view = ref if t is None else ref.at[t]
    return pltriton.load(view, mask=mask, other=jnp.zeros((), ref.dtype)).astype(F32)


def _store(ref, value, mask, t=None) -> None:
    view = ref if t is None else ref.at[t]
    pltriton.store(view, value.astype(ref.dtype), mask=mask)


def _load_keep(step_ref, t) -> jax.Array | None:
    """Whether step t is kept (a scalar bool), or None without a step mask."""
    return None if step_ref is None else step_ref[t] != 0


def _split_inputs(refs, count: int, plan: Plan):
    """(the first ``count`` refs, the step-mask ref or None, the remaining refs)."""
    inputs, refs = refs[:count], refs[count:]
    if plan.masked:
        return inputs, refs[0], refs[1:]
    return inputs, None, refs


def _masked_gates(cell: Gate, xs, keep):
    a, b = cell.linear(*xs)
    if keep is None:
        return a, b
    return jnp.where(keep, a, 1.0), jnp.where(keep, b, 0.0)


def _chunk_loop(plan: Plan, load, update, init, *, reverse: bool = False):
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


# ----------------------------------------------------------------------------- kernels


def forward_kernel(*refs, cell: Gate, plan: Plan):
    """h over the chunk from its initial state; writes h."""
    x_refs, step_ref, (start_ref, h_ref) = _split_inputs(refs, cell.num_inputs, plan)
    mask = _lane_mask(plan.block_d, plan.hidden)

    def load(t):
        return [_load(r, mask, t) for r in x_refs], _load_keep(step_ref, t)

    def update(t, valid, row, h):
        a, b = _masked_gates(cell, *row)
        h = jnp.where(valid, a * h + b, h)
        _store(h_ref, h, mask, t)  # clamped steps past the end rewrite the same value
        return h

    _chunk_loop(plan, load, update, _load(start_ref, mask))


def forward_summary_kernel(*refs, cell: Gate, plan: Plan):
    """The chunk as one affine map h -> A h + H from zero: writes (A, H) per chunk."""
    x_refs, step_ref, (prod_ref, end_ref) = _split_inputs(refs, cell.num_inputs, plan)
    mask = _lane_mask(plan.block_d, plan.hidden)

    def load(t):
        return [_load(r, mask, t) for r in x_refs], _load_keep(step_ref, t)

    def update(t, valid, row, carry):
        prod, h = carry
        a, b = _masked_gates(cell, *row)
        return jnp.where(valid, a * prod, prod), jnp.where(valid, a * h + b, h)

    init = (jnp.ones((plan.block_d,), F32), jnp.zeros((plan.block_d,), F32))
    prod, h = _chunk_loop(plan, load, update, init)
    _store(prod_ref, prod, mask)
    _store(end_ref, h, mask)


def backward_summary_kernel(*refs, cell: Gate, plan: Plan):
    """The reverse chunk as one affine map on the gradient carry: writes (A, G) per chunk."""
    x_refs, step_ref, (dh_ref, prod_ref, out_ref) = _split_inputs(refs, cell.num_decay_inputs, plan)
    mask = _lane_mask(plan.block_d, plan.hidden)

    def load(t):
        return [_load(r, mask, t) for r in x_refs], _load(dh_ref, mask, t), _load_keep(step_ref, t)

    def update(t, valid, row, carry):
        xs, dh, keep = row
        prod, g_out = carry
        a = cell.decay(*xs)
        if keep is not None:
            a = jnp.where(keep, a, 1.0)
        return jnp.where(valid, a * prod, prod), jnp.where(valid, a * (g_out + dh), g_out)

    init = (jnp.ones((plan.block_d,), F32), jnp.zeros((plan.block_d,), F32))
    prod, g_out = _chunk_loop(plan, load, update, init, reverse=True)
    _store(prod_ref, prod, mask)
    _store(out_ref, g_out, mask)


def backward_kernel(*refs, cell: Gate, plan: Plan):
    """Reverse scan of the gradient carry; pulls each step's (g h_{t-1}, g) back to the raw inputs."""
    n = cell.num_inputs
    x_refs, step_ref, refs = _split_inputs(refs, n, plan)
    (h_ref, dh_ref, start_ref, carry_ref), dx_refs, carry_out_ref = refs[:4], refs[4 : 4 + n], refs[4 + n]
    mask = _lane_mask(plan.block_d, plan.hidden)
    h_start = _load(start_ref, mask)

    def load(t):
        h_prev = jnp.where(t == 0, h_start, _load(h_ref, mask, jnp.maximum(t - 1, 0)))
        xs = [_load(r, mask, t) for r in x_refs]
        return xs, _load(dh_ref, mask, t), h_prev, _load_keep(step_ref, t)

    def update(t, valid, row, carry):
        xs, dh, h_prev, keep = row
        grad = carry + dh
        (a, _), gates_vjp = jax.vjp(cell.linear, *xs)
        dxs = gates_vjp((grad * h_prev, grad))
        if keep is not None:  # a masked step is the identity: no input gradient, the carry passes through
            a = jnp.where(keep, a, 1.0)
            dxs = [jnp.where(keep, dx, 0.0) for dx in dxs]
        for dx_ref, dx in zip(dx_refs, dxs):
            _store(dx_ref, dx, mask, t)  # clamped steps store before the real step overwrites
        return jnp.where(valid, a * grad, carry)

    carry = _chunk_loop(plan, load, update, _load(carry_ref, mask), reverse=True)
    _store(carry_out_ref, carry, mask)


# ----------------------------------------------------------------------------- launch


def launch(kernel, cell: Gate, plan: Plan, in_kinds: str, out_kinds: str, out_dtypes, name: str):
    """``kernel`` as a pallas_call on the plan's grid.

    Kinds: 's' = [B, T, D] sequence, 'c' = [B, n_chunks, D] per-chunk vector, 'm' = [B, T] step mask.
    """
    seq = pl.BlockSpec((None, plan.chunk, plan.block_d), lambda b, j, c: (b, c, j))
    per_chunk = pl.BlockSpec((None, None, plan.block_d), lambda b, j, c: (b, c, j))
    steps = pl.BlockSpec((None, plan.chunk), lambda b, j, c: (b, c))
    spec = {"s": seq, "c": per_chunk, "m": steps}
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
