"""MoE (dense and top-k with its load-balancing loss) and causal SelfAttention with padding and KV cache."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models import MoE, SelfAttention

DIM = 4


def normal(seed: int, shape) -> jax.Array:
    """Standard-normal float32 test input, drawn in NumPy (eager jax.random compiles once per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def run(module, *args, method="__call__"):
    graphdef, state = nnx.split(module)
    return jax.jit(lambda s, *a: getattr(nnx.merge(graphdef, s), method)(*a))(state, *args)


def test_dense_moe_is_the_gate_weighted_sum_of_all_experts():
    moe = MoE(DIM, 4, rngs=nnx.Rngs(0))
    x = normal(1, (2, 3, DIM))
    y, aux = run(moe, x)
    probs = jax.nn.softmax(x @ moe.gate.kernel[...] + moe.gate.bias[...], axis=-1)
    experts = jnp.einsum("btd,edh->bteh", x, moe.kernel[...]) + moe.bias[...]
    np.testing.assert_allclose(y, jnp.einsum("bte,bteh->bth", probs, experts), atol=1e-5)
    assert float(aux) == 0.0


def test_top_k_routes_to_k_experts_and_balances():
    moe = MoE(DIM, 4, top_k=2, rngs=nnx.Rngs(0))
    x = normal(2, (2, 5, DIM))
    y, aux = run(moe, x)
    weights, _ = run(moe, x, None, method="_weights")
    np.testing.assert_array_equal(jnp.sum(weights > 0, axis=-1), 2)
    np.testing.assert_allclose(jnp.sum(weights, axis=-1), 1.0, rtol=1e-6)
    expected = jnp.einsum("bte,bteh->bth", weights, jnp.einsum("btd,edh->bteh", x, moe.kernel[...]) + moe.bias[...])
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert float(aux) >= 1.0 - 1e-6  # n * sum f_e p_e is 1 when balanced, larger when not
    moe.gate.kernel[...] = jnp.zeros_like(moe.gate.kernel[...])  # uniform gate: exactly balanced probabilities
    moe.gate.bias[...] = jnp.zeros_like(moe.gate.bias[...])
    np.testing.assert_allclose(run(moe, x)[1], 1.0, rtol=1e-6)


def test_moe_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_experts"):
        MoE(DIM, 0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="top_k"):
        MoE(DIM, 2, top_k=3, rngs=nnx.Rngs(0))


def test_attention_is_causal_and_ignores_padded_keys():
    attn = SelfAttention(DIM, 2, rngs=nnx.Rngs(0))
    x = normal(3, (2, 6, DIM))
    mask = jnp.array([[True] * 6, [True] * 4 + [False] * 2])
    y = run(attn, x, mask)
    changed = x.at[:, 4:].set(7.0)  # the future of positions 0..3, and row 1's padding
    y_changed = run(attn, changed, mask)
    np.testing.assert_allclose(y[:, :4], y_changed[:, :4], atol=1e-6)
    assert not np.allclose(y[0, 4:], y_changed[0, 4:])


def test_attention_decode_with_cache_matches_full_call():
    attn = SelfAttention(DIM, 2, rngs=nnx.Rngs(0))
    x = normal(4, (2, 5, DIM))
    full = run(attn, x)
    cache = attn.init_cache(2, 8)
    graphdef, state = nnx.split(attn)
    decode = jax.jit(lambda s, x_t, c, p: nnx.merge(graphdef, s).decode(x_t, c, p))
    for t in range(5):
        y_t, cache = decode(state, x[:, t], cache, jnp.full((2,), t, jnp.int32))
        np.testing.assert_allclose(y_t, full[:, t], atol=1e-5)
