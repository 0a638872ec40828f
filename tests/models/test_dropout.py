"""The hashed dropout mask: golden bits, keep rate, independence across positions and keys, module behaviour."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxlua.models.dropout import Dropout, fmix32, hash_bits, keep_mask


def _fmix32_reference(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 fmix32 written out in NumPy uint64 arithmetic (an independent spelling of the same map)."""
    x = x.astype(np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & mask
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & mask
    x ^= x >> np.uint64(16)
    return x.astype(np.uint32)


def test_fmix32_matches_murmur3_reference_and_known_values():
    inputs = np.array([0, 1, 2, 0xDEADBEEF, 0xFFFFFFFF, 12345678], np.uint32)
    np.testing.assert_array_equal(np.asarray(fmix32(jnp.asarray(inputs))), _fmix32_reference(inputs))
    assert int(fmix32(jnp.uint32(0))) == 0  # fmix32 fixes 0
    assert int(fmix32(jnp.uint32(1))) == 0x514E28B7  # published MurmurHash3 fmix32(1)


def test_fmix32_is_a_bijection_on_a_million_inputs():
    out = np.asarray(fmix32(jnp.arange(1 << 20, dtype=jnp.uint32) * jnp.uint32(2654435761)))
    assert np.unique(out).size == out.size


def test_hash_bits_are_deterministic_per_key_and_differ_across_keys():
    key = jax.random.key(3)
    a, b = hash_bits(key, (8, 16)), hash_bits(key, (8, 16))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = hash_bits(jax.random.key(4), (8, 16))
    assert (np.asarray(a) != np.asarray(c)).mean() > 0.99
    chex.assert_type(a, jnp.uint32)


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.8, 0.9])
def test_keep_rate_matches_keep_prob(keep_prob):
    n = 1 << 20
    mask = np.asarray(keep_mask(jax.random.key(0), keep_prob, (n,)))
    sigma = np.sqrt(keep_prob * (1 - keep_prob) / n)
    assert abs(mask.mean() - keep_prob) < 5 * sigma


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_neighbours_along_every_axis_are_independent(axis):
    p = 0.5
    mask = np.asarray(keep_mask(jax.random.key(1), p, (64, 64, 256)))
    first = np.take(mask, np.arange(mask.shape[axis] - 1), axis=axis)
    second = np.take(mask, np.arange(1, mask.shape[axis]), axis=axis)
    both = (first & second).mean()
    n = first.size
    assert abs(both - p * p) < 5 * np.sqrt(p * p * (1 - p * p) / n)


def test_masks_of_related_keys_are_independent():
    """The train step derives keys with fold_in(step key, i): those masks must not agree beyond chance."""
    p, shape = 0.5, (256, 1024)
    base = jax.random.key(7)
    masks = [np.asarray(keep_mask(jax.random.fold_in(base, i), p, shape)) for i in range(4)]
    n = masks[0].size
    for i in range(4):
        for j in range(i + 1, 4):
            agree = (masks[i] == masks[j]).mean()
            assert abs(agree - 0.5) < 5 * np.sqrt(0.25 / n), (i, j, agree)


def test_keep_mask_edge_cases_and_errors():
    key = jax.random.key(0)
    assert bool(keep_mask(key, 1.0, (5, 5)).all())
    assert not bool(keep_mask(key, 0.0, (5, 5)).any())
    assert keep_mask(key, 0.5, (0, 3)).shape == (0, 3)
    with pytest.raises(ValueError, match="keep_prob"):
        keep_mask(key, 1.5, (2,))
    with pytest.raises(ValueError, match="2\\*\\*32"):
        hash_bits(key, (1 << 17, 1 << 16))


def test_dropout_module_scales_kept_values_and_switches_with_train_and_eval():
    layer = Dropout(0.25, rngs=nnx.Rngs(0))
    x = jnp.ones((32, 512))
    y = np.asarray(layer(x))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    second = np.asarray(layer(x))
    assert (second != y).any()  # the stream advances: a new mask per call
    layer.eval()
    chex.assert_trees_all_equal(layer(x), x)
    assert Dropout(0.0, rngs=nnx.Rngs(0))(x) is x
    chex.assert_trees_all_equal(Dropout(1.0, rngs=nnx.Rngs(0))(x), jnp.zeros_like(x))


def test_dropout_broadcast_dims_share_the_mask():
    layer = Dropout(0.5, broadcast_dims=(1,), rngs=nnx.Rngs(0))
    y = np.asarray(layer(jnp.ones((16, 8, 32))))
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))


def test_dropout_gradient_is_the_scaled_mask():
    layer = Dropout(0.5, rngs=nnx.Rngs(0))
    x = jnp.linspace(-1.0, 1.0, 256).reshape(4, 64)
    graphdef, state = nnx.split(layer)

    def f(x):
        return nnx.merge(graphdef, state, copy=True)(x).sum()

    grad = np.asarray(jax.grad(f)(x))
    y = np.asarray(nnx.merge(graphdef, state, copy=True)(x))
    np.testing.assert_allclose(grad, np.where(y != 0, 2.0, 0.0))


def test_dropout_without_rngs_in_training_mode_says_so():
    with pytest.raises(ValueError, match="no RNG stream"):
        Dropout(0.5)(jnp.ones((2, 2)))
