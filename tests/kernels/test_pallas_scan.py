"""Fused Pallas scan kernels against a sequential lax.scan reference (interpret mode on CPU)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import kernels
from kernels import pallas_scan
from kernels.gates import GATES
from kernels.pallas_scan import bytes_moved, fused_scan, mingru_scan, minlstm_scan, pallas_linear_scan

F32 = jnp.float32
TOL = {jnp.float32: 1e-5, jnp.bfloat16: 1e-2}


# ----------------------------------------------------------------------------- references


def _sequential(a: jax.Array, b: jax.Array, h0: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """h_t = a_t h_{t-1} + b_t by lax.scan over time, fp32; where mask is False, h_t = h_{t-1}."""
    if mask is not None:
        a = jnp.where(mask[..., None], a, 1.0)
        b = jnp.where(mask[..., None], b, 0.0)

    def step(h, ab):
        h = ab[0] * h + ab[1]
        return h, h

    _, hs = lax.scan(step, h0, (jnp.swapaxes(a, 0, 1), jnp.swapaxes(b, 0, 1)))
    return jnp.swapaxes(hs, 0, 1)


def _g(x):
    return jnp.where(x >= 0, x + 0.5, jax.nn.sigmoid(x))


def _linear_reference(log_a, log_b, h0, mask):
    return _sequential(jnp.exp(log_a), jnp.exp(log_b), h0, mask)


def _mingru_reference(k, h_tilde, h0, mask):
    z = jax.nn.sigmoid(k)
    return _sequential(1 - z, z * _g(h_tilde), h0, mask)


def _minlstm_reference(f, i, h_tilde, h0, mask):
    sf, si = jax.nn.sigmoid(f), jax.nn.sigmoid(i)
    return _sequential(sf / (sf + si), si / (sf + si) * _g(h_tilde), h0, mask)


CELLS = {
    "linear": (pallas_linear_scan, _linear_reference, 2),
    "mingru": (mingru_scan, _mingru_reference, 2),
    "minlstm": (minlstm_scan, _minlstm_reference, 3),
}


def _inputs(cell: str, shape, dtype, seed: int = 0):
    """Raw inputs in ranges that keep h and its gradients O(1) (so bf16 rounding stays < 1e-2)."""
    keys = jax.random.split(jax.random.PRNGKey(seed), 5)
    normal = lambda key, scale=1.0, shift=0.0: (  # noqa: E731
        jax.random.normal(key, shape) * scale + shift
    ).astype(dtype)
    if cell == "linear":
        xs = (jax.nn.log_sigmoid(normal(keys[0], 1.0, 1.0).astype(F32)).astype(dtype),
              normal(keys[1], 0.5, -1.5))
    elif cell == "mingru":
        xs = (normal(keys[0]), normal(keys[1]))
    else:
        xs = (normal(keys[0]), normal(keys[1]), normal(keys[2]))
    h0 = (jax.random.normal(keys[3], (shape[0], shape[2])) * 0.5).astype(dtype)
    cotangent = jax.random.normal(keys[4], shape) * 0.3
    return xs, h0, cotangent


def _step_mask(shape) -> jax.Array:
    """[B, T]: row 0 masks steps at the start, inside and at the end (across chunk edges); row 1 masks
    every step (its h stays h0, d h0 sums the cotangents, its inputs get zero gradient)."""
    batch, length = shape[:2]
    t = np.arange(length)
    rows = [(t % 5 != 0) & (t < length - 2), np.zeros(length, bool)]
    return jnp.asarray(np.stack([rows[r % 2] for r in range(batch)]))


def _value_and_grads(fn, xs, h0, mask, cotangent):
    """Output and gradients of sum(h * cotangent) w.r.t. every input (and h0 when given), jitted once."""

    @jax.jit
    def run(xs, h0):
        def loss(xs, h0):
            h = fn(*xs, h0, mask)
            return jnp.sum(h.astype(F32) * cotangent), h

        (_, h), grads = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(xs, h0)
        return h, grads

    return run(xs, h0)


def _check(cell, shape, dtype, *, use_h0, use_mask=False, interpret=True, **kernel_kwargs):
    kernel, reference, _ = CELLS[cell]
    xs, h0, cotangent = _inputs(cell, shape, dtype)
    if not use_h0:
        h0 = None
    mask = _step_mask(shape) if use_mask else None
    h, grads = _value_and_grads(
        lambda *a: kernel(*a, interpret=interpret, **kernel_kwargs), xs, h0, mask, cotangent
    )
    h0_ref = jnp.zeros((shape[0], shape[2]), F32) if h0 is None else h0.astype(F32)
    h_ref, grads_ref = _value_and_grads(reference, tuple(x.astype(F32) for x in xs), h0_ref, mask, cotangent)
    tol = TOL[dtype]
    chex.assert_shape(h, shape)
    assert h.dtype == dtype
    rtol = 0.0 if dtype == jnp.float32 else tol  # bf16 rounding is relative: 2**-9 of |value|
    np.testing.assert_allclose(np.asarray(h, np.float32), h_ref, atol=tol, rtol=rtol)
    dxs, dh0 = grads
    for dx, dx_ref in zip(dxs, grads_ref[0]):
        assert dx.dtype == dtype
        np.testing.assert_allclose(np.asarray(dx, np.float32), dx_ref, atol=tol, rtol=rtol)
    if use_h0:
        assert dh0.dtype == dtype
        np.testing.assert_allclose(np.asarray(dh0, np.float32), grads_ref[1], atol=tol, rtol=rtol)


# ----------------------------------------------------------------------------- interpret-mode parity

# T=13 is not a multiple of the chunk and D=40 not a multiple of block_d; chunk=None is single pass.
# "masked" cases pass a [B, T] step mask (see _step_mask); the masked single-pass form of the fused
# cells is also covered through the cells in tests/models/test_cells.py (scan_method="pallas").
LINEAR_CASES = [
    pytest.param((2, 13, 40), jnp.float32, None, True, False, id="fp32-single-pass-h0"),
    pytest.param((2, 13, 40), jnp.float32, 4, False, False, id="fp32-chunked-ragged"),
    pytest.param((1, 12, 16), jnp.float32, 3, True, True, id="fp32-chunked-exact-h0-masked"),
    pytest.param((2, 13, 40), jnp.bfloat16, 5, True, False, id="bf16-chunked-h0"),
]


@pytest.mark.parametrize("shape,dtype,chunk,use_h0,use_mask", LINEAR_CASES)
def test_linear_scan_matches_sequential(shape, dtype, chunk, use_h0, use_mask):
    _check("linear", shape, dtype, use_h0=use_h0, use_mask=use_mask, block_d=16, chunk=chunk)


FUSED_CASES = [
    pytest.param("mingru", jnp.float32, None, True, False, id="mingru-fp32-single-pass-h0"),
    pytest.param("minlstm", jnp.float32, 4, True, True, id="minlstm-fp32-chunked-h0-masked"),
    pytest.param("mingru", jnp.bfloat16, 4, False, True, id="mingru-bf16-chunked-masked"),
    pytest.param("minlstm", jnp.bfloat16, None, False, False, id="minlstm-bf16-single-pass"),
]


@pytest.mark.parametrize("cell,dtype,chunk,use_h0,use_mask", FUSED_CASES)
def test_fused_cells_match_formulas(cell, dtype, chunk, use_h0, use_mask):
    _check(cell, (2, 11, 24), dtype, use_h0=use_h0, use_mask=use_mask, block_d=16, chunk=chunk)


def test_mingru_equals_linear_scan_in_log_space():
    """The fused MinGRU gates agree with the log-space form the cells feed to linear_scan."""
    (k, h_tilde), h0, _ = _inputs("mingru", (2, 9, 16), F32)
    log_a = -jax.nn.softplus(k)
    log_b = -jax.nn.softplus(-k) + jnp.log(_g(h_tilde))
    fused = jax.jit(lambda *a: mingru_scan(*a, interpret=True, block_d=16))(k, h_tilde, h0)
    linear = jax.jit(lambda *a: pallas_linear_scan(*a, interpret=True, block_d=16))(log_a, log_b, h0)
    np.testing.assert_allclose(fused, linear, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("gate", sorted(GATES))
def test_fused_kernel_and_dispatcher_share_the_gate_math(gate):
    """fused_scan and the XLA dispatcher's sequential scan agree on every gate of kernels.gates (masked, h0)."""
    shape = (2, 9, 16)
    xs, h0, _ = _inputs(gate, shape, F32)
    mask = _step_mask(shape)
    fused = jax.jit(lambda xs, h0: fused_scan(gate, xs, h0, mask, interpret=True, block_d=16))(xs, h0)
    dispatched = jax.jit(lambda xs, h0: kernels.gated_scan(gate, xs, h0, mask, method="sequential"))(xs, h0)
    np.testing.assert_allclose(fused, dispatched, atol=1e-6, rtol=1e-6)


def test_minlstm_stays_finite_when_both_gates_saturate():
    """sigmoid(f) and sigmoid(i) both underflow at -200: the naive f' = s(f)/(s(f)+s(i)) is 0/0."""
    shape = (1, 4, 16)
    f = jnp.full(shape, -200.0)
    i = jnp.full(shape, -200.0)
    h_tilde = jnp.ones(shape)
    h0 = jnp.ones((1, 16))
    h = minlstm_scan(f, i, h_tilde, h0, interpret=True, block_d=16)
    # f' = i' = 1/2 exactly, so h_t = (h_{t-1} + 1.5) / 2 starting from 1.
    expected = [1.25, 1.375, 1.4375, 1.46875]
    np.testing.assert_allclose(h[0, :, 0], expected, rtol=1e-6)


# ----------------------------------------------------------------------------- plan, bytes, errors


def test_chunking_is_chosen_from_batch_times_hidden():
    choose = pallas_scan._choose_chunk
    assert choose(64, 4096, 2048, 128) == 4096  # 1024 programs already fill the GPU
    assert choose(2, 200, 128, 128) == 200  # too short to split
    chunk = choose(8, 4096, 1536, 128)  # 96 programs: split time
    assert pallas_scan.MIN_CHUNK <= chunk < 4096
    assert 8 * 12 * -(-4096 // chunk) >= pallas_scan.TARGET_PROGRAMS
    assert choose(2, 1000, 128, 128) == 143  # capped at length // MIN_CHUNK = 7 chunks of <= 143


def test_bytes_moved_counts_reads_and_writes():
    B, T, D = 64, 4096, 2048  # single pass
    per_chunk = 4 * B * D
    assert bytes_moved(B, T, D, jnp.float32, False) == 3 * 4 * B * T * D + per_chunk
    assert bytes_moved(B, T, D, jnp.bfloat16, True) == 9 * 2 * B * T * D + 4 * per_chunk
    assert bytes_moved(B, T, D, jnp.float32, False, cell="minlstm") == 4 * 4 * B * T * D + per_chunk
    # (8, 4096, 1536) fills only 96 programs, so the auto plan splits time into 11 chunks: the forward
    # re-reads both inputs and the backward re-reads log_a and dh (4 more elements), plus 8 fp32
    # [B, chunks, D] vectors instead of 4 [B, 1, D] ones.
    B, T, D = 8, 4096, 1536
    elems, vec = B * T * D, 4 * B * D
    assert pallas_scan._choose_chunk(B, T, D, 128) == 373
    assert bytes_moved(B, T, D, jnp.float32, True, chunk=T) == 9 * 4 * elems + 4 * vec
    assert bytes_moved(B, T, D, jnp.float32, True) == 13 * 4 * elems + 8 * 11 * vec
    # A step mask adds one int32 read per (b, t) for each of the 4 kernels of the chunked plan.
    assert bytes_moved(B, T, D, jnp.float32, True, masked=True) == 13 * 4 * elems + 8 * 11 * vec + 4 * 4 * B * T


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pallas_linear_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 5))), "one shape"),
        (lambda: pallas_linear_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4), jnp.int32)), "dtype"),
        (lambda: pallas_linear_scan(jnp.zeros((3, 4)), jnp.zeros((3, 4))), r"\[B, T, D\]"),
        (lambda: pallas_linear_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4)), jnp.zeros((4,))), "h0"),
        (lambda: mingru_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4)), jnp.zeros((2, 4), int)), "h0"),
        (lambda: mingru_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4)), unroll=0), "unroll"),
        (lambda: mingru_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4)), mask=jnp.ones((2, 4), bool)), "mask"),
        (lambda: mingru_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4)), mask=jnp.ones((2, 3))), "mask"),
        (lambda: mingru_scan(jnp.zeros((2, 3, 4)), jnp.zeros((2, 3, 4)), block_d=24), "power of 2"),
        (lambda: bytes_moved(1, 2, 3, jnp.float32, False, cell="gru"), "unknown cell"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- GPU lowering and runs


@pytest.mark.parametrize("cell", ["linear", "mingru", "minlstm"])
def test_kernels_lower_to_triton(cell):
    """Forward and backward, both plans, lower to Triton IR for CUDA without needing a GPU.

    The fused cells lower with a step mask (the cells' padding) and a chunk that is not a power of 2.
    """
    kernel, _, n = CELLS[cell]
    xs = [jnp.zeros((2, 40, 200), jnp.bfloat16)] * n
    mask = None if cell == "linear" else jnp.arange(40)[None] < jnp.array([[40], [17]])

    def loss(*args):
        return jnp.sum(kernel(*args, mask=mask, interpret=False, chunk=16 if mask is None else 15).astype(F32))

    try:
        lowered = jax.jit(jax.grad(loss, argnums=tuple(range(n)))).trace(*xs).lower(
            lowering_platforms=("cuda",)
        )
    except ValueError as err:
        if "Cannot lower pallas_call on platform" in str(err):
            pytest.skip(f"this jaxlib has no Triton lowering: {err}")
        raise
    assert lowered.as_text().count("__gpu$xla.gpu.triton") >= 4  # 2 forward + 2 backward kernels


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("cell", ["linear", "mingru", "minlstm"])
@pytest.mark.parametrize("chunk", [None, 100], ids=["auto", "chunked"])
def test_compiled_kernel_on_gpu(cell, dtype, chunk):
    if jax.default_backend() != "gpu":
        pytest.skip("needs a GPU")
    _check(cell, (4, 1000, 300), dtype, use_h0=True, interpret=False, chunk=chunk)
