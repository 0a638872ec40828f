"""kernels.gates: the one home of the MinGRU/MinLSTM gate math, against NumPy formulas written from the paper."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlua import config
from jaxlua.models import min_cells
from kernels import gates


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def g_numpy(x):
    return np.where(x >= 0, x + 0.5, sigmoid(x))


def inputs(seed: int, count: int, shape=(2, 5, 3)):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) * 3 for _ in range(count)]


def paper_gates(name: str, xs):
    """(a, b) from the paper's definitions in float64: MinGRU z = σ(k); MinLSTM f' = σ(f)/(σ(f)+σ(i))."""
    xs = [np.asarray(x, np.float64) for x in xs]
    if name == "mingru":
        z = sigmoid(xs[0])
        return 1 - z, z * g_numpy(xs[1])
    f, i = sigmoid(xs[0]), sigmoid(xs[1])
    return f / (f + i), i / (f + i) * g_numpy(xs[2])


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_linear_log_decay_and_step_forms_agree_with_the_paper(name):
    gate = gates.get_gate(name)
    xs = [jnp.asarray(x) for x in inputs(0, gate.num_inputs)]
    a_ref, b_ref = paper_gates(name, xs)
    a, b = gate.linear(*xs)
    np.testing.assert_allclose(a, a_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b, b_ref, rtol=1e-5, atol=1e-7)
    log_a, log_b = gate.log(*xs)
    np.testing.assert_allclose(np.exp(log_a), a_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.exp(log_b), b_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gate.decay(*xs[: gate.num_decay_inputs]), a_ref, rtol=1e-5, atol=1e-7)
    h = jnp.asarray(inputs(1, 1)[0])
    q = gate.logit(*xs[:-1])
    np.testing.assert_allclose(gates.step(h, q, xs[-1]), a_ref * h + b_ref, rtol=1e-5, atol=1e-6)


def test_minlstm_gates_stay_finite_and_normalised_when_both_sigmoids_underflow():
    f = i = jnp.full((1, 1, 4), -200.0)
    a, b = gates.get_gate("minlstm").linear(f, i, jnp.ones((1, 1, 4)))
    np.testing.assert_array_equal(a, 0.5)  # f' = i' = 1/2 exactly, where σ(f)/(σ(f)+σ(i)) is 0/0
    np.testing.assert_array_equal(b, 0.75)
    grads = jax.grad(lambda f: jnp.sum(gates.get_gate("minlstm").log(f, i, jnp.ones_like(f))[1]))(f)
    assert bool(jnp.all(jnp.isfinite(grads)))


def test_linear_gate_is_the_identity_on_logs():
    log_a, log_b = (jnp.asarray(x) for x in inputs(2, 2))
    gate = gates.get_gate("linear")
    assert gate.log(log_a, log_b) == (log_a, log_b)
    np.testing.assert_allclose(gate.linear(log_a, log_b)[1], np.exp(log_b), rtol=1e-6)


def test_masks_make_a_step_the_identity():
    a, b = jnp.full((2, 3, 1), 0.3), jnp.full((2, 3, 1), 0.7)
    mask = jnp.array([[True, False, True], [False, False, True]])
    ma, mb = gates.mask_linear(a, b, mask)
    np.testing.assert_array_equal(ma[..., 0], np.where(mask, 0.3, 1.0).astype(np.float32))
    np.testing.assert_array_equal(mb[..., 0], np.where(mask, 0.7, 0.0).astype(np.float32))
    la, lb = gates.mask_log(jnp.log(a), jnp.log(b), mask)
    np.testing.assert_allclose(np.exp(la), ma, rtol=1e-6)
    np.testing.assert_allclose(np.exp(lb), mb, rtol=1e-6)
    assert bool(jnp.all(jnp.where(mask[..., None], True, (la == 0) & (lb == -jnp.inf))))


def test_every_gate_but_linear_is_a_registered_cell_and_the_cells_use_it():
    assert set(gates.GATES) - {"linear"} <= set(config.CELLS.names())
    for name in set(gates.GATES) - {"linear"}:
        cls = config.CELLS.get(name)
        assert issubclass(cls, min_cells._MinCell) and cls.gate == name


def test_unknown_gate_is_named():
    with pytest.raises(ValueError, match="unknown cell 'gru'"):
        gates.get_gate("gru")
