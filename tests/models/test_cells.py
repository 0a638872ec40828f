"""The five cells: step/sequence parity, gradients against a sequential reference, masking, sizes, long inputs."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models import CELLS
from kernels.gates import GATES, g, log_g

IN, HIDDEN = 3, 4
GATED = [name for name in CELLS.names() if name in GATES]  # the cells whose recurrence is a gated linear scan
# (cell, scan method): "auto" is "sequential" on CPU; the gated cells also run the log-space parallel scan.
VARIANTS = [(name, "auto") for name in CELLS.names()] + [(name, "associative") for name in GATED]
# The fused Pallas kernels (interpret mode off a GPU): checked against the step reference with a mask.
PALLAS_VARIANTS = [(name, "pallas") for name in GATED]


def normal(seed: int, shape) -> jax.Array:
    """Standard-normal float32 test input, drawn in NumPy (eager jax.random compiles once per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


@functools.lru_cache(maxsize=None)
def compiled(name: str, method: str):
    """Parameters and jitted pure functions (sequence call, one step, masked step-by-step reference)."""
    graphdef, params = nnx.split(CELLS.get(name)(IN, HIDDEN, scan_method=method, rngs=nnx.Rngs(1)))
    cell = lambda p: nnx.merge(graphdef, p)

    def reference(p, x, h0, mask):
        """`lax.scan` over `step`, keeping the old state where mask is False."""
        module = cell(p)

        def body(h, inputs):
            x_t, m_t = inputs
            new, _ = module.step(h, x_t)
            h = jax.tree.map(lambda n, o: jnp.where(m_t[:, None], n, o), new, h)
            return h, (h[0] if isinstance(h, tuple) else h)

        h_last, ys = jax.lax.scan(body, h0, (jnp.swapaxes(x, 0, 1), jnp.swapaxes(mask, 0, 1)))
        return jnp.swapaxes(ys, 0, 1), h_last

    sequence = lambda p, x, h0, mask: cell(p)(x, h0, mask)
    return params, sequence, jax.jit(lambda p, h, x_t: cell(p).step(h, x_t)), reference, cell(params)


def random_state(cell, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda z: jnp.asarray(0.5 * rng.standard_normal(z.shape), jnp.float32),
                        cell.init_state(batch))


@pytest.mark.parametrize("name,method", VARIANTS)
@pytest.mark.parametrize("length", [1, 7, 256])
def test_steps_equal_one_sequence_call(name, method, length):
    if method == "associative" and length == 256:
        length = 32  # keeps the parallel-scan compile cheap; T=256 runs under "auto" for every cell
    params, sequence, step, _, cell = compiled(name, method)
    x = normal(length, (2, length, IN))
    # h0=None only changes the first line of __call__: one length covers it, saving compiles.
    for h0 in ((None,) if length == 7 else ()) + (random_state(cell, 2, 3),):
        y, h_last = jax.jit(sequence)(params, x, h0, None)
        assert y.shape == (2, length, HIDDEN)
        h = cell.init_state(2) if h0 is None else h0
        ys = []
        for t in range(length):
            h, y_t = step(params, h, x[:, t])
            ys.append(y_t)
        np.testing.assert_allclose(y, jnp.stack(ys, axis=1), atol=1e-5, rtol=1e-5)
        for got, want in zip(jax.tree.leaves(h_last), jax.tree.leaves(h)):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,method", VARIANTS + PALLAS_VARIANTS)
def test_masked_values_and_gradients_match_sequential_reference(name, method):
    params, sequence, _, reference, cell = compiled(name, method)
    x = normal(4, (2, 9, IN))
    h0 = random_state(cell, 2, 5)
    mask = jnp.array([[True] * 9, [True, False, True, True, False, True, True, False, False]])
    weights = normal(6, (2, 9, HIDDEN))

    def loss(fn, p, x, h0):
        y, h_last = fn(p, x, h0, mask)
        return jnp.sum(weights * y) + sum(jnp.sum(h ** 2) for h in jax.tree.leaves(h_last))

    @jax.jit
    def values_and_grads(p, x, h0):  # one compile for both paths
        return [(fn(p, x, h0, mask), jax.grad(functools.partial(loss, fn), argnums=(0, 1, 2))(p, x, h0))
                for fn in (sequence, reference)]

    (out, got), (out_ref, want) = values_and_grads(params, x, h0)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(out_ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", GATED)
def test_pallas_method_runs_the_fused_kernel_on_raw_preactivations(name):
    """scan_method="pallas" calls the fused kernel (kernels.pallas_scan.fused_scan), not the log-space scan."""
    params, sequence, _, _, _ = compiled(name, "pallas")
    x = normal(8, (2, 5, IN))
    jaxpr = jax.make_jaxpr(sequence)(params, x, None, jnp.ones((2, 5), bool)).jaxpr
    outer = {eqn.primitive.name for eqn in jaxpr.eqns}
    assert "custom_vjp_call" in outer and f"name={name}_fwd" in str(jaxpr)
    assert not outer & {"exp", "log", "log1p", "logistic"}  # no gates are formed outside the kernel


def test_masked_rows_end_in_the_state_of_their_own_length():
    params, sequence, _, _, cell = compiled("minlstm", "auto")
    x = normal(7, (2, 6, IN))
    lengths = jnp.array([6, 3])
    _, h_last = jax.jit(sequence)(params, x, None, jnp.arange(6)[None] < lengths[:, None])
    _, h_short = jax.jit(sequence)(params, x[1:, :3], None, None)
    np.testing.assert_allclose(h_last[1], h_short[0], atol=1e-6)


def test_parameter_counts():
    d, h = IN, HIDDEN
    expected = {"rnn": d * h + h + h * h, "gru": 3 * (d * h + h) + 3 * h * h + 3 * h,
                "lstm": 4 * (d * h + h) + 4 * h * h, "mingru": 2 * (d * h + h), "minlstm": 3 * (d * h + h)}
    for name in expected:
        params = nnx.state(CELLS.get(name)(d, h, rngs=nnx.Rngs(0)), nnx.Param)
        assert sum(p.size for p in jax.tree.leaves(params)) == expected[name], name


# Long inputs (T=4096, fp32 and bf16) run through every cell in tests/models/test_language_model.py, and the
# log-space scan at T=4096 in tests/kernels/test_scan.py (accuracy against float64).


def test_g_and_log_g_agree_and_are_positive():
    x = jnp.linspace(-30.0, 30.0, 601)
    assert bool(jnp.all(g(x) > 0))
    np.testing.assert_allclose(jnp.exp(log_g(x)), g(x), rtol=1e-6)
    assert bool(jnp.all(jnp.isfinite(jax.jit(jax.grad(lambda v: jnp.sum(log_g(v))))(x))))


def test_bad_inputs_raise():
    cell = CELLS.get("gru")(IN, HIDDEN, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="expects inputs"):
        cell(jnp.zeros((2, 5, IN + 1)))
    with pytest.raises(ValueError, match="unknown scan method"):
        CELLS.get("mingru")(IN, HIDDEN, scan_method="fast", rngs=nnx.Rngs(0))
