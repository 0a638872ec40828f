"""kernels.linear_scan: every method against a float64 NumPy recurrence, masking, gradients, dtypes, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kernels

CPU_METHODS = ("sequential", "associative", "heinsen")
# jit everything: eager associative_scan dispatches (and compiles) hundreds of small ops.
scan = jax.jit(kernels.linear_scan, static_argnames="method")


def normal(seed: int, shape) -> jax.Array:
    """Standard-normal float32 test input, drawn in NumPy (eager jax.random compiles once per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def gates(seed: int, shape=(2, 64, 8)):
    """MinGRU-like `log a`, `log b` (b > 0), made in NumPy (no eager JAX dispatch)."""
    k, cand = np.random.default_rng(seed).standard_normal((2, *shape)).astype(np.float32)
    log_g = np.where(cand >= 0, np.log(np.maximum(cand, 0) + 0.5), -np.logaddexp(0, -np.minimum(cand, 0)))
    return jnp.asarray(-np.logaddexp(0, k)), jnp.asarray(-np.logaddexp(0, -k) + log_g)


def reference(a, b, h0=None):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    h = np.zeros(a.shape[::2]) if h0 is None else np.asarray(h0, np.float64)
    out = np.empty(a.shape)
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out[:, t] = h
    return out


@pytest.mark.parametrize("method", CPU_METHODS)
@pytest.mark.parametrize("with_h0", [False, True])
def test_methods_match_float64_reference(method, with_h0):
    log_a, log_b = gates(0)
    h0 = normal(1, (2, 8)) if with_h0 else None  # any sign is allowed
    h = scan(log_a, log_b, h0, method=method)
    assert h.shape == log_a.shape and h.dtype == jnp.float32
    tol = 1e-4 if method == "heinsen" else 2e-6
    np.testing.assert_allclose(h, reference(np.exp(log_a), np.exp(log_b), h0), rtol=tol, atol=tol)


def test_associative_stays_accurate_at_long_length():
    log_a, log_b = gates(2, (1, 4096, 4))
    ref = reference(np.exp(np.asarray(log_a, np.float64)), np.exp(np.asarray(log_b, np.float64)))
    rel = np.abs(np.asarray(scan(log_a, log_b, method="associative")) - ref) / ref
    assert rel.max() < 2e-6


@pytest.mark.parametrize("method", CPU_METHODS)
def test_masked_positions_carry_the_state_with_finite_gradients(method):
    """Gradients are checked for the training methods only (heinsen's backward is slow to compile)."""
    log_a, log_b = gates(3, (2, 16, 4))
    keep = jnp.arange(16) % 3 != 1  # drop every third step
    masked_a = jnp.where(keep[None, :, None], log_a, 0.0)
    masked_b = jnp.where(keep[None, :, None], log_b, -jnp.inf)
    h = scan(masked_a, masked_b, method=method)
    compact = scan(log_a[:, keep], log_b[:, keep], method="sequential")
    np.testing.assert_allclose(h[:, keep], compact, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h[:, 1], h[:, 0])  # step 1 is masked: unchanged

    def loss(la, lb):
        la = jnp.where(keep[None, :, None], la, 0.0)
        lb = jnp.where(keep[None, :, None], lb, -jnp.inf)
        return jnp.sum(scan(la, lb, method=method))

    if method == "heinsen":
        return
    grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(log_a, log_b)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)
    np.testing.assert_array_equal(grads[1][:, 1], 0.0)


def test_associative_gradients_match_sequential():
    method = "associative"
    log_a, log_b = gates(4, (2, 32, 4))
    h0 = jnp.full((2, 4), 0.3)
    weights = normal(5, log_a.shape)

    def loss(la, lb, h0, m):
        return jnp.sum(weights * scan(la, lb, h0, method=m))

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), static_argnums=3)
    want = grad(log_a, log_b, h0, "sequential")
    got = grad(log_a, log_b, h0, method)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-5)


def test_linear_form_accepts_any_sign_and_matches_log_form():
    a = jnp.asarray(np.random.default_rng(6).uniform(size=(2, 20, 3)), jnp.float32)
    b = normal(7, (2, 20, 3))  # negative b: fine in linear space
    np.testing.assert_allclose(kernels.linear_scan_linear(a, b), reference(a, b), rtol=1e-5, atol=1e-6)
    b = jnp.abs(b) + 0.1
    np.testing.assert_allclose(kernels.linear_scan_linear(a, b), scan(jnp.log(a), jnp.log(b)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", CPU_METHODS)
def test_bfloat16_inputs_are_carried_in_float32(method):
    log_a, log_b = gates(8, (1, 512, 4))
    h = scan(log_a.astype(jnp.bfloat16), log_b.astype(jnp.bfloat16), method=method)
    assert h.dtype == jnp.float32
    exact = reference(np.exp(np.asarray(log_a.astype(jnp.bfloat16), np.float64)),
                      np.exp(np.asarray(log_b.astype(jnp.bfloat16), np.float64)))
    np.testing.assert_allclose(h, exact, rtol=1e-3 if method == "heinsen" else 1e-5)


def test_auto_follows_the_measured_table():
    assert kernels.resolve_method("auto", "cpu") == "sequential"
    assert kernels.resolve_method("auto", "gpu") == kernels.AUTO_METHOD["gpu"]
    assert kernels.resolve_method("associative", "cpu") == "associative"


def test_bad_input_gives_clear_errors():
    log_a, log_b = gates(9, (2, 8, 4))
    with pytest.raises(ValueError, match="unknown scan method"):
        scan(log_a, log_b, method="magic")
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        scan(log_a, log_b[:, :4])
    with pytest.raises(ValueError, match="h0 must be"):
        scan(log_a, log_b, jnp.zeros((2, 5)))


@pytest.mark.gpu
def test_pallas_matches_associative_on_gpu():
    log_a, log_b = gates(10, (4, 1024, 128))
    h0 = jnp.full((4, 128), 0.5)
    np.testing.assert_allclose(scan(log_a, log_b, h0, method="pallas"),
                               scan(log_a, log_b, h0, method="associative"), rtol=1e-5, atol=1e-6)


def test_backends_are_the_registered_scan_methods():
    from jaxlua.config import SCAN_METHODS

    assert kernels.METHODS == SCAN_METHODS.names()
    assert set(kernels.BACKENDS) == set(SCAN_METHODS.names()) - {"auto"}
    assert set(kernels.AUTO_METHOD.values()) <= set(kernels.BACKENDS)


def test_auto_table_agrees_with_every_measured_results_file():
    """Each results/bench_scan_<backend>.json recommends (or its scan times imply) the method AUTO_METHOD names."""
    import json
    import pathlib

    from experiments.bench_scan_cpu import recommended_auto_method, scan_rows_fwd_bwd

    files = sorted((pathlib.Path(__file__).parents[2] / "results").glob("bench_scan_*.json"))
    assert files, "no results/bench_scan_*.json: run python -m experiments.bench_scan"
    for path in files:
        result = json.loads(path.read_text())
        backend = result.get("environment", result).get("backend")
        recommended = result.get("recommended_auto_method") or recommended_auto_method(
            scan_rows_fwd_bwd(result["scans"]))
        assert kernels.AUTO_METHOD[backend] == recommended, path.name


@pytest.mark.parametrize("method", CPU_METHODS)
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_gated_scan_matches_a_float64_recurrence_with_mask_and_h0(name, method):
    """The dispatcher from raw pre-activations, against the paper's gates and recurrence in NumPy."""
    rng = np.random.default_rng(11)
    n = kernels.gates.get_gate(name).num_inputs
    xs = rng.standard_normal((n, 2, 12, 3)).astype(np.float32)
    h0 = rng.standard_normal((2, 3)).astype(np.float32)
    mask = np.arange(12)[None] < np.array([[12], [7]])
    sig = lambda v: 1 / (1 + np.exp(-np.asarray(v, np.float64)))  # noqa: E731
    g = np.where(xs[-1] >= 0, xs[-1] + 0.5, sig(xs[-1]))
    if name == "mingru":
        a, b = 1 - sig(xs[0]), sig(xs[0]) * g
    else:
        f, i = sig(xs[0]), sig(xs[1])
        a, b = f / (f + i), i / (f + i) * g
    a, b = np.where(mask[..., None], a, 1.0), np.where(mask[..., None], b, 0.0)
    run = jax.jit(kernels.gated_scan, static_argnames=("gate", "method"))
    h = run(gate=name, inputs=tuple(jnp.asarray(x) for x in xs), h0=jnp.asarray(h0), mask=jnp.asarray(mask),
            method=method)
    assert h.dtype == jnp.float32
    tol = 1e-4 if method == "heinsen" else 2e-6
    np.testing.assert_allclose(h, reference(a, b, h0), rtol=tol, atol=tol)


def test_gated_scan_bad_input_is_named():
    x = jnp.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="takes 2 inputs"):
        kernels.gated_scan("mingru", (x,))
    with pytest.raises(ValueError, match="unknown cell"):
        kernels.gated_scan("gru", (x, x))
    with pytest.raises(ValueError, match="mask must be"):
        kernels.gated_scan("mingru", (x, x), mask=jnp.ones((2, 4), bool))
